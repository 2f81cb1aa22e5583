/**
 * The parser contract: what every parser (pure JS, Rust addon, simdjson adapter)
 * must produce for a chunk of input bytes. Workers call exactly one parser per
 * batch; the engine never looks at a parser's internals, only at these slots.
 *
 * ─── Result slot layout (32 bytes, little-endian, 8 × Int32 words) ───────────
 *
 *   word  bytes   field        meaning
 *   0-1   0..7    eventTime    float64 epoch milliseconds; NaN when missing/invalid
 *   2     8..11   offset       first byte of the record, absolute index into `input`
 *   3     12..15  length       record length in bytes (trimmed of space/tab/CR/LF)
 *   4     16..19  hashLo       key hash, low 32 bits  (0 when status is not KEYED)
 *   5     20..23  hashHi       key hash, high 32 bits (0 when status is not KEYED)
 *   6     24..27  status       Status code | StatusFlag bits
 *   7     28..31  tag          left 0 by parsers; the worker stamps its range id here
 *
 * The same buffer is viewed as Float64Array (eventTime at index slot*4) and
 * Int32Array (other words at slot*8 + word). A slot never straddles a batch.
 *
 * ─── Decisions (identical for every parser) ─────────────────────────────────
 * A record is checked in this order; the first failing check names the reason:
 *   1. length > maxRecordBytes                                  → TOO_LARGE
 *   2. scan the value left to right; the first bad byte decides:
 *        malformed UTF-8 inside a string (overlong, surrogate code
 *        points U+D800..DFFF, > U+10FFFF, truncated, stray continuation) → INVALID_UTF8
 *        raw byte < 0x20 inside a string                         → CONTROL_CHAR
 *        nesting deeper than MAX_DEPTH                           → TOO_DEEP
 *        anything else not RFC 8259 (incl. bytes ≥ 0x80 outside
 *        strings, a BOM, bad escapes, bad numbers, truncation)   → INVALID_JSON
 *        (a BOM opening a FILE never reaches a parser: byte-order-mark.ts)
 *   3. non-whitespace after the complete value                  → TRAILING_GARBAGE
 *   4. the value is valid JSON but not an object                → NOT_OBJECT
 *   5. otherwise KEYED (every key field present) or UNKEYED.
 * `\uD800`-style escaped lone surrogates are accepted (as JSON.parse does).
 * Whitespace is exactly space, tab, CR, LF.
 *
 * ─── Key ────────────────────────────────────────────────────────────────────
 * Key fields are matched against TOP-LEVEL member names by their raw bytes
 * between the quotes (an escaped name such as "\u0069d" does not match "id").
 * When a name repeats, the last occurrence wins. The key bytes are, for each key
 * field in configured order, the field value's raw JSON text (strings keep their
 * quotes, objects/arrays their inner text verbatim) followed by one 0xFF byte
 * (a byte that never occurs in valid UTF-8, so field boundaries cannot alias).
 *
 * Hash: two independent 32-bit lanes over the key bytes, uint32 arithmetic:
 *   lo: h = 0x811C9DC5; per byte b: h = imul(h ^ b, 0x01000193);            then fmix32
 *   hi: h = 0x9E3779B9; per byte b: h = imul(h ^ b, 0x5BD1E995); h ^= h >>> 15; then fmix32
 *   fmix32(h): h ^= h>>>16; h = imul(h, 0x85EBCA6B); h ^= h>>>13;
 *              h = imul(h, 0xC2B2AE35); h ^= h>>>16
 * Stored as signed Int32 words (`| 0`).
 *
 * ─── Event time ─────────────────────────────────────────────────────────────
 * The top-level member named by eventTimeField (last occurrence wins):
 *   - a JSON number: its value (correctly rounded float64) as epoch ms;
 *     non-finite → invalid;
 *   - a JSON string without escapes in the form
 *       YYYY-MM-DD
 *       YYYY-MM-DD(T|t| )HH:MM[:SS[.fraction]][Z|z|±HH:MM|±HHMM|±HH]
 *     (no zone = UTC; fraction truncated to whole ms; month/day/hour/minute/
 *     second ranges checked including leap years; second 60 is invalid)
 *     → epoch ms;
 *   - anything else → invalid.
 * Missing → NaN. Invalid → NaN and StatusFlag.EVENT_TIME_INVALID.
 * Event time is only computed for records that end up KEYED or UNKEYED.
 *
 * ─── Framing ────────────────────────────────────────────────────────────────
 * Lines:  records are separated by LF. Each line is trimmed of space/tab/CR;
 *         a line that is empty after trimming produces no slot. The final
 *         segment without LF is a record only when `final`; otherwise it is left
 *         unconsumed. consumedEnd is the index just past the last LF consumed
 *         (or `end` when final).
 * Single: all of [start, end) is one record (trimmed of all whitespace); an
 *         all-whitespace input produces no slot. Only valid with final = true.
 * Array:  the input is (a part of) one top-level JSON array; each element is a
 *         record framed by depth-0 commas. carryPhase says where the previous
 *         chunk stopped (ArrayPhase). An element that fails validation is
 *         re-synchronised by skipping strings and brackets to the next depth-0
 *         ',' or ']' and rejected as one record covering [element start, there).
 *         A chunk never consumes a partial element unless final.
 *
 * ─── Decisions on points the rules above leave open ────────────────────────
 * Every implementation follows these too; the JS parser (js-parser.ts) is the
 * reference for them.
 *
 * Configuration. A parser instance is bound to one ParseConfig when it is
 * created (createJsParser(config), the native equivalents); nothing about the
 * configuration travels with a chunk.
 *
 * Calls and state.
 *   - `out` full: before every step (a line, an array token or element) the
 *     parser checks for room and returns when there is none, so it returns
 *     right after the slot that fills `out`, having consumed that record's
 *     terminator (Lines: its LF; Array: the ',' or ']' after it) and nothing
 *     more. With zero capacity it returns at once: consumedEnd = start,
 *     carry phase = carryPhase.
 *   - state[STATE_CARRY_PHASE] is ArrayPhase.BeforeArray (0) after Lines and
 *     Single calls. state[3] is reserved: parsers neither read nor write it.
 *   - Single framing with final = false consumes nothing and writes no slot.
 *   - Bytes of `input` at or after `end` are never read.
 *
 * Every slot.
 *   - The TOO_LARGE check uses the slot's own (trimmed) length and applies to
 *     every slot, framing rejects included; a too-large record is not scanned.
 *   - A rejected slot has eventTime NaN, hashLo = hashHi = 0 and no flag bits.
 *     NaN is always the canonical quiet NaN 0x7FF8000000000000; an event time
 *     of -0 is stored as +0.
 *
 * Scanning.
 *   - Numbers are read greedily by the grammar, then the context judges the
 *     next byte: top-level "01" is the value 0 followed by TRAILING_GARBAGE,
 *     "[01]" is INVALID_JSON; "-", "1.", "1e", "tru" are INVALID_JSON.
 *   - A UTF-8 sequence whose continuation bytes are wrong or cut off by the
 *     end of the record is INVALID_UTF8, whatever the offending byte is.
 *   - The byte after a backslash is judged as an escape letter only: anything
 *     but one of "\/bfnrtu (a control byte, a byte >= 0x80) is INVALID_JSON, as
 *     is a non-hex digit in \uXXXX.
 *   - The 1025th open bracket is TOO_DEEP. In Array framing depth counts from
 *     the element (the enclosing array is not counted).
 *
 * Key.
 *   - A value's raw text runs from its first byte to its last: strings with
 *     their quotes, objects and arrays with their brackets and their inner
 *     whitespace verbatim. No normalisation: 1 vs 1.0, "A" vs "\u0041" and
 *     [1,2] vs [1, 2] are different keys.
 *   - Any value makes a field present, null included.
 *   - With no key fields configured, accepted records are UNKEYED.
 *   - A field name configured twice, or as both a key and the event-time
 *     field, is matched for every use.
 *
 * Event time.
 *   - Numbers: any finite value, no range check; exponents allowed.
 *   - ISO: years 0000-9999 (proleptic Gregorian, year 0 is a leap year); a
 *     fraction needs seconds and at least one digit, any number of digits
 *     (only the first three count, added as non-negative milliseconds); zone
 *     offsets are 00-23 hours and 00-59 minutes; the date-only form takes no
 *     zone; no surrounding whitespace.
 *
 * Array framing.
 *   - An element is its value and the delimiter after it: a complete value
 *     whose ',' or ']' is not in the chunk yet is not consumed (unless final,
 *     where the end of input ends the element and the returned phase is
 *     AfterElement: the array was never closed, which produces no slot).
 *   - An empty element ("[1,,2]", "[,1]", "[1,]") is a zero-length
 *     INVALID_JSON slot at the delimiter that ends it.
 *   - A bad element's extent comes from skipArrayElement (js/array-skip.ts)
 *     run from the element start, trimmed of trailing whitespace; the reason
 *     is the element's first failure, TRAILING_GARBAGE when a complete value
 *     is followed by anything but whitespace and a delimiter. Validation of
 *     an element stops after maxRecordBytes + 1 bytes (it is TOO_LARGE then).
 *   - Phase AfterElement followed by a byte other than ',' / ']' starts a bad
 *     element with reason TRAILING_GARBAGE.
 *   - A top level that is not an array: one INVALID_JSON slot from the first
 *     non-whitespace byte to the end of the chunk (trimmed), then phase Done.
 *     In phase Done, non-whitespace gives one TRAILING_GARBAGE slot per chunk
 *     that has any, covering it up to the end of the chunk (trimmed).
 *   - An element still incomplete at `end` leaves consumedEnd at its start;
 *     when end - consumedEnd exceeds maxRecordBytes the caller can step over
 *     it with skipArrayElement and report it TOO_LARGE itself, resuming the
 *     parser at the delimiter with phase AfterElement.
 */

/** Size of one result slot in bytes / Int32 words / Float64 words. */
export const SLOT_BYTES = 32;
export const SLOT_WORDS = 8;
export const SLOT_F64_WORDS = 4;

export const W_EVENT_TIME_F64 = 0; // index in Float64 units, relative to slot*SLOT_F64_WORDS
export const W_OFFSET = 2;
export const W_LENGTH = 3;
export const W_HASH_LO = 4;
export const W_HASH_HI = 5;
export const W_STATUS = 6;
export const W_TAG = 7;

/** Deepest nesting accepted (the top-level object counts as depth 1). */
export const MAX_DEPTH = 1024;

export const Status = {
  KEYED: 0,
  UNKEYED: 1,
  INVALID_JSON: 10,
  INVALID_UTF8: 11,
  CONTROL_CHAR: 12,
  NOT_OBJECT: 13,
  TRAILING_GARBAGE: 14,
  TOO_LARGE: 15,
  TOO_DEEP: 16,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Flag bits or-ed into the status word above the low byte. */
export const StatusFlag = {
  EVENT_TIME_INVALID: 0x100,
  /**
   * Never set by parsers: the parse worker sets it on an accepted slot whose
   * record is directly followed by one LF in the input buffer, so the main
   * thread can write runs of such records as they are without reading the
   * input bytes itself (they are in the worker's cache, not its own).
   */
  LF_FOLLOWS: 0x200,
} as const;
export const STATUS_CODE_MASK = 0xff;

/** Why a record was rejected (dead-letter `reason`, `rejected` events, stats().rejectedByReason). */
/** Why a record was rejected; `truncated_document` is a `.json` array that ended without its `]` (the engine's, not a parser's). */
export type RejectReason = 'invalid_json' | 'invalid_utf8' | 'control_char' | 'not_object' | 'trailing_garbage' | 'too_large' | 'too_deep' | 'truncated_document';

export const REJECT_REASONS: Readonly<Record<number, RejectReason>> = {
  [Status.INVALID_JSON]: 'invalid_json',
  [Status.INVALID_UTF8]: 'invalid_utf8',
  [Status.CONTROL_CHAR]: 'control_char',
  [Status.NOT_OBJECT]: 'not_object',
  [Status.TRAILING_GARBAGE]: 'trailing_garbage',
  [Status.TOO_LARGE]: 'too_large',
  [Status.TOO_DEEP]: 'too_deep',
};

export function isAccepted(status: number): boolean {
  const code = status & STATUS_CODE_MASK;
  return code === Status.KEYED || code === Status.UNKEYED;
}

export const Framing = { Lines: 0, Single: 1, Array: 2 } as const;
export type FramingMode = (typeof Framing)[keyof typeof Framing];

/** Where an Array-framed chunk stopped; carried into the next chunk. */
export const ArrayPhase = {
  /** nothing but whitespace seen yet; expecting '[' */
  BeforeArray: 0,
  /** just after '[': an element or ']' */
  FirstElement: 1,
  /** just after ',': an element */
  NextElement: 2,
  /** just after an element: ',' or ']' */
  AfterElement: 3,
  /** after the closing ']': only whitespace may follow */
  Done: 4,
} as const;
export type ArrayPhaseCode = (typeof ArrayPhase)[keyof typeof ArrayPhase];

/** Parser configuration, compiled once per worker (names as UTF-8 bytes). */
export interface ParseConfig {
  readonly keyFields: readonly Uint8Array[];
  readonly eventTimeField: Uint8Array;
  readonly maxRecordBytes: number;
}

/**
 * Indices into the Float64Array `state` every parser fills in on return.
 * state[STATE_CONSUMED_END]: index just past the last consumed byte
 * state[STATE_CARRY_PHASE]:  ArrayPhase to pass into the next chunk (Array framing)
 * state[STATE_SLOTS]:        slots written into `out`
 * A parser stops early (consumedEnd < end) when `out` is full; the caller
 * drains the slots and calls again from consumedEnd.
 */
export const STATE_CONSUMED_END = 0;
export const STATE_CARRY_PHASE = 1;
export const STATE_SLOTS = 2;
export const STATE_WORDS = 4;

export interface ChunkRequest {
  readonly input: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly framing: FramingMode;
  readonly final: boolean;
  readonly carryPhase: ArrayPhaseCode;
}

/**
 * Parsers are created once per worker with the compiled configuration (key
 * fields, event-time field, size limit); the config is NOT passed per call.
 */
export type ChunkParserFactory = (config: ParseConfig) => ChunkParser;

/** Every parser implementation exposes this one call. */
export interface ChunkParser {
  readonly name: 'js' | 'native' | 'simdjson';
  /**
   * Parse records of `req` into `out` (capacity = out.length / SLOT_WORDS slots),
   * writing the summary into `state`. Crosses any language boundary once.
   */
  parseChunk(req: ChunkRequest, out: Int32Array, state: Float64Array): void;
  /**
   * Lines framing only: this instance also sets StatusFlag.LF_FOLLOWS (made on
   * the parse worker's request; the contract's parsers leave it unset).
   */
  readonly marksLfFollows?: boolean;
}

export function compileParseConfig(opts: {
  keyFields: readonly string[];
  eventTimeField: string;
  maxRecordBytes: number;
}): ParseConfig {
  const enc = new TextEncoder();
  return {
    keyFields: opts.keyFields.map((f) => enc.encode(f)),
    eventTimeField: enc.encode(opts.eventTimeField),
    maxRecordBytes: opts.maxRecordBytes,
  };
}
