/**
 * Parser implementations under test, and helpers that run one over a buffer
 * and return its slots as plain objects (tests may allocate; parsers may not).
 */
import {
  ArrayPhase,
  SLOT_F64_WORDS,
  SLOT_WORDS,
  STATE_CARRY_PHASE,
  STATE_CONSUMED_END,
  STATE_SLOTS,
  STATE_WORDS,
  W_HASH_HI,
  W_HASH_LO,
  W_LENGTH,
  W_OFFSET,
  W_STATUS,
  W_TAG,
  compileParseConfig,
} from '../../dist/src/parser/contract.js';
import type { ArrayPhaseCode, ChunkParser, FramingMode, ParseConfig } from '../../dist/src/parser/contract.js';
import { createJsParser, defaultParseConfig } from '../../dist/src/parser/js-parser.js';
import { createNativeParser, loadNativeAddon } from '../../dist/src/parser/native.js';
import { createSimdjsonParser, loadSimdjson } from '../../dist/src/parser/simdjson-parser.js';

/**
 * Every parser this build has. The native addon is expected wherever cargo
 * is (CI sets ORDERTAIL_REQUIRE_NATIVE=1, so a missing addon fails loudly
 * instead of shrinking the matrix); simdjson is an optional dependency.
 */
function factories(): ParserFactory[] {
  const list: ParserFactory[] = [{ name: 'js', create: createJsParser }];
  const native = loadNativeAddon();
  if ('addon' in native) list.push({ name: 'native', create: (c) => createNativeParser(native.addon, c) });
  else if (process.env.ORDERTAIL_REQUIRE_NATIVE === '1') throw native.error;
  if (!(loadSimdjson() instanceof Error)) list.push({ name: 'simdjson', create: createSimdjsonParser });
  return list;
}

/** Every parser implementation available in this build, with its default configuration. */
export async function availableParsers(): Promise<ChunkParser[]> {
  return factories().map((f) => f.create(defaultParseConfig));
}

export interface ParserFactory {
  readonly name: ChunkParser['name'];
  create(config: ParseConfig): ChunkParser;
}

/** The names of availableParsers(), for tests that run the engine with each (`parser` option). */
export function parserNames(): ChunkParser['name'][] {
  return factories().map((f) => f.name);
}

/** The same implementations as availableParsers(), for tests that need their own configuration. */
export async function parserFactories(): Promise<ParserFactory[]> {
  return factories();
}

export function config(keyFields: string[] = ['id'], eventTimeField = 'ts', maxRecordBytes = 1 << 20): ParseConfig {
  return compileParseConfig({ keyFields, eventTimeField, maxRecordBytes });
}

export interface SlotObject {
  offset: number;
  length: number;
  status: number;
  hashLo: number;
  hashHi: number;
  eventTime: number;
}

export interface CallResult {
  slots: SlotObject[];
  consumedEnd: number;
  carryPhase: number;
}

export interface CallOptions {
  start?: number;
  end?: number;
  final?: boolean;
  carryPhase?: ArrayPhaseCode;
  /** Slots that fit in `out`. */
  capacity?: number;
}

/** One parseChunk call; also checks the contract's per-call invariants. */
export function callOnce(parser: ChunkParser, input: Uint8Array, framing: FramingMode, opts: CallOptions = {}): CallResult {
  const capacity = opts.capacity ?? 1024;
  // One spare slot filled with a marker shows whether the parser writes past its capacity.
  const out = new Int32Array((capacity + 1) * SLOT_WORDS).fill(0x5a5a5a5a);
  const state = new Float64Array(STATE_WORDS).fill(-7);
  const start = opts.start ?? 0;
  const end = opts.end ?? input.length;
  parser.parseChunk(
    { input, start, end, framing, final: opts.final ?? true, carryPhase: opts.carryPhase ?? ArrayPhase.BeforeArray },
    out.subarray(0, capacity * SLOT_WORDS),
    state,
  );
  const n = state[STATE_SLOTS]!;
  if (!(Number.isInteger(n) && n >= 0 && n <= capacity)) throw new Error(`slot count ${n} outside 0..${capacity}`);
  for (let w = capacity * SLOT_WORDS; w < out.length; w++) {
    if (out[w] !== 0x5a5a5a5a) throw new Error('parser wrote past the capacity of out');
  }
  const f64 = new Float64Array(out.buffer);
  const slots: SlotObject[] = [];
  for (let i = 0; i < n; i++) {
    const w = i * SLOT_WORDS;
    if (out[w + W_TAG] !== 0) throw new Error(`slot ${i}: tag word ${out[w + W_TAG]} (parsers leave it 0)`);
    slots.push({
      offset: out[w + W_OFFSET]!,
      length: out[w + W_LENGTH]!,
      status: out[w + W_STATUS]!,
      hashLo: out[w + W_HASH_LO]!,
      hashHi: out[w + W_HASH_HI]!,
      eventTime: f64[i * SLOT_F64_WORDS]!,
    });
  }
  const consumedEnd = state[STATE_CONSUMED_END]!;
  if (!(consumedEnd >= start && consumedEnd <= end)) throw new Error(`consumedEnd ${consumedEnd} outside [${start}, ${end}]`);
  return { slots, consumedEnd, carryPhase: state[STATE_CARRY_PHASE]! };
}

/**
 * Calls the parser until [start, end) is consumed or it stops making progress
 * (a partial record when not final), as a worker would with a small `out`.
 */
export function parseAll(parser: ChunkParser, input: Uint8Array, framing: FramingMode, opts: CallOptions = {}): CallResult {
  const end = opts.end ?? input.length;
  let pos = opts.start ?? 0;
  let carryPhase = opts.carryPhase ?? ArrayPhase.BeforeArray;
  const slots: SlotObject[] = [];
  for (;;) {
    const r = callOnce(parser, input, framing, { ...opts, start: pos, end, carryPhase });
    slots.push(...r.slots);
    const progressed = r.consumedEnd > pos || r.slots.length > 0;
    pos = r.consumedEnd;
    carryPhase = r.carryPhase as ArrayPhaseCode;
    if (pos >= end || !progressed) return { slots, consumedEnd: pos, carryPhase };
  }
}

/** The bytes a slot covers, as text. */
export function slotText(input: Uint8Array, s: SlotObject): string {
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8', s.offset, s.offset + s.length);
}
