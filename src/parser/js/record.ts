/**
 * Decides one record's slot contents (status, key hash, event time) in the
 * contract's order, and writes slots. Framing decides where records are;
 * this module decides what they are.
 */
import { STATUS_CODE_MASK, SLOT_WORDS, Status, StatusFlag, W_HASH_HI, W_HASH_LO, W_LENGTH, W_OFFSET, W_STATUS, W_TAG } from '../contract.js';
import type { ParseConfig } from '../contract.js';
import { Ch } from './byte-classes.js';
import { parseEventTime } from './event-time.js';
import { FieldTable } from './fields.js';
import { hashRecordKey } from './key-hash.js';
import { scanValue } from './value-scanner.js';

// The current record's event time lives here from decision to write, and its
// Int32 view copies the bits into the slot (host order = little-endian).
// Keeping the double in a typed array, never in a property or a return
// value, keeps it unboxed: no heap number per record.
const time = new Float64Array(1);
const timeWords = new Int32Array(time.buffer);

export class RecordClassifier {
  /** The current chunk's bytes, input[0, end): a Buffer and a DataView of the same memory. */
  buf: Buffer = Buffer.alloc(0);
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  readonly maxRecordBytes: number;
  private readonly fields: FieldTable;
  /** [hashLo, hashHi] of the last KEYED record. */
  private readonly hash = new Int32Array(2);
  status = 0;

  constructor(config: ParseConfig) {
    this.fields = new FieldTable(config);
    this.maxRecordBytes = config.maxRecordBytes;
  }

  /**
   * Views input[0, end) for this chunk. Ending the views at `end` means no
   * read can stray past the chunk, and Buffer#indexOf stops there. Every scan
   * sees the same Buffer shape, so element loads stay monomorphic.
   */
  setInput(input: Uint8Array, end: number): Buffer {
    this.buf = Buffer.from(input.buffer, input.byteOffset, end);
    this.dv = new DataView(input.buffer, input.byteOffset, end);
    return this.buf;
  }

  /** The per-record field spans (for classifiers that find members another way). */
  get fieldTable(): FieldTable {
    return this.fields;
  }

  /** A whole record buf[s, e), already framed and trimmed (e > s). */
  classify(s: number, e: number): void {
    if (e - s > this.maxRecordBytes) return this.reject(Status.TOO_LARGE);
    const r = this.scan(s, e);
    if (r < 0) return this.reject(-r);
    // e is trimmed, so anything left before it contains a non-whitespace byte.
    if (r < e) return this.reject(Status.TRAILING_GARBAGE);
    this.acceptValue(s);
  }

  /** Validates the value at s within [s, limit): its end, or the negated reason. */
  scan(s: number, limit: number): number {
    this.fields.reset();
    return scanValue(this.buf, this.dv, s, limit, this.fields);
  }

  /** After scan() succeeded on the value starting at s (its first byte). */
  acceptValue(s: number): void {
    const buf = this.buf;
    if (buf[s] !== Ch.LBRACE) return this.reject(Status.NOT_OBJECT);
    const fields = this.fields;
    let status: number = Status.UNKEYED;
    if (fields.allKeysPresent()) {
      hashRecordKey(buf, fields, this.hash);
      status = Status.KEYED;
    }
    const ev = fields.eventIndex;
    const vs = fields.valueStart[ev]!;
    if (vs < 0) time[0] = NaN;
    else if (!parseEventTime(buf, vs, fields.valueEnd[ev]!, time)) status |= StatusFlag.EVENT_TIME_INVALID;
    this.status = status;
  }

  reject(status: number): void {
    this.status = status;
    time[0] = NaN;
  }

  /** Writes the last decision as slot `slot` of `out`. */
  write(out: Int32Array, slot: number, offset: number, length: number): void {
    const w = slot * SLOT_WORDS;
    out[w] = timeWords[0]!;
    out[w + 1] = timeWords[1]!;
    out[w + W_OFFSET] = offset;
    out[w + W_LENGTH] = length;
    const keyed = (this.status & STATUS_CODE_MASK) === Status.KEYED;
    out[w + W_HASH_LO] = keyed ? this.hash[0]! : 0;
    out[w + W_HASH_HI] = keyed ? this.hash[1]! : 0;
    out[w + W_STATUS] = this.status;
    out[w + W_TAG] = 0;
  }
}
