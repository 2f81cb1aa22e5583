/*
 * Records → rows of COPY's text format for the staging table
 * (key_hi int, key_lo int, event_ms double precision, record text), and,
 * when the encoder is given the mapped columns, the same records as rows of
 * the table itself (event_time, key_hash, mapped columns…, record), which a
 * batch is copied into directly when nothing in it needs the database's
 * conversion (batch-writer.ts).
 *
 * The sink sees only record bytes, so it parses them again
 * (sinks/record-slots.ts) to get the same 64-bit key hash and event time the
 * engine deduplicated on: a row written by
 * another engine or before a crash carries the same key, and ON CONFLICT
 * finds it. The mapped columns are cut out of the jsonb by PostgreSQL itself
 * (batch-writer.ts), so no JSON is built here.
 */
import { SLOT_F64_WORDS, SLOT_WORDS, Status, STATUS_CODE_MASK, W_EVENT_TIME_F64, W_HASH_HI, W_HASH_LO, W_LENGTH, W_OFFSET, W_STATUS } from '../../parser/contract.js';
import type { MappedColumn } from '../../config/postgres-columns.js';
import { RecordSlotReader, type RecordSlotOptions } from '../record-slots.js';
import { writeInt64, writeTimestamptz } from './copy-text.js';
import { MappedValueWriter } from './mapped-values.js';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const NULL_FIELD = Buffer.from('\\N\t\\N\t');

/** Rows in COPY text format, one after the other, with where each ends. */
export class RowBatch {
  buf: Buffer;
  length = 0;
  /** End (exclusive) of row i in buf. */
  readonly ends: number[] = [];
  /** Where row i's record field starts (for dead letters). */
  readonly recordStarts: number[] = [];

  /** The same rows in the table's own layout (when the encoder writes them). */
  direct: Buffer | undefined;
  directLength = 0;
  /** Every row so far has its direct row: the batch may be copied straight into the table. */
  directComplete = true;

  constructor(capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** The rows in the table's layout, when every row has one. */
  directText(): Buffer | undefined {
    return this.directComplete && this.direct && this.directLength > 0 ? this.direct.subarray(0, this.directLength) : undefined;
  }

  get rows(): number {
    return this.ends.length;
  }

  /** Row i's start. */
  start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  /** The COPY text of rows [from, to). */
  slice(from: number, to: number): Buffer {
    return this.buf.subarray(this.start(from), to === 0 ? 0 : this.ends[to - 1]!);
  }

  /** Row i's record as it was read (COPY escapes undone). */
  record(i: number): string {
    const text = this.buf.toString('utf8', this.recordStarts[i]!, this.ends[i]! - 1);
    return text.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  }

  clear(): void {
    this.length = 0;
    this.directLength = 0;
    this.directComplete = true;
    this.ends.length = 0;
    this.recordStarts.length = 0;
  }

  /** Room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  /** Room for `n` more bytes of direct rows. */
  reserveDirect(n: number): Buffer {
    const direct = this.direct;
    if (direct && this.directLength + n <= direct.length) return direct;
    const grown = Buffer.allocUnsafe(Math.max((direct?.length ?? this.buf.length) * 2, this.directLength + n));
    direct?.copy(grown, 0, 0, this.directLength);
    this.direct = grown;
    return grown;
  }
}

export interface RowEncoderOptions extends RecordSlotOptions {
  /** The table's mapped columns: given, each row is also written in the table's layout. */
  readonly columns?: readonly MappedColumn[] | undefined;
}

/** Turns newline-terminated record batches (what a Sink is written) into staging rows. */
export class RowEncoder {
  private readonly records: RecordSlotReader;
  private readonly mapped: MappedValueWriter | undefined;

  constructor(options: RowEncoderOptions) {
    this.records = new RecordSlotReader(options);
    this.mapped = options.columns ? new MappedValueWriter(options.columns) : undefined;
  }

  /** Append a row per record of `chunk` to `batch`; returns the rows added. */
  encode(chunk: Uint8Array, batch: RowBatch, arrivalEpochMs: number): number {
    let added = 0;
    this.records.forEachSlot(chunk, (slots, f64, s) => {
      const w = s * SLOT_WORDS;
      const code = slots[w + W_STATUS]! & STATUS_CODE_MASK;
      // The engine accepted every record it wrote; anything else here is not a record.
      if (code !== Status.KEYED && code !== Status.UNKEYED) return;
      const t = f64[s * SLOT_F64_WORDS + W_EVENT_TIME_F64]!;
      this.row(batch, chunk, slots[w + W_OFFSET]!, slots[w + W_LENGTH]!, code === Status.KEYED, slots[w + W_HASH_HI]!, slots[w + W_HASH_LO]!, t === t ? t : arrivalEpochMs);
      added++;
    });
    return added;
  }

  private row(batch: RowBatch, src: Uint8Array, offset: number, length: number, keyed: boolean, hi: number, lo: number, eventMs: number): void {
    // Worst case: every byte escaped, plus the numbers and separators.
    batch.reserve(length * 2 + 64);
    const buf = batch.buf;
    let p = batch.length;
    if (keyed) {
      p += buf.write(`${hi}\t${lo}\t`, p, 'latin1');
    } else {
      p += NULL_FIELD.copy(buf, p);
    }
    p += buf.write(`${eventMs}\t`, p, 'latin1');
    batch.recordStarts.push(p);
    const end = offset + length;
    for (let i = offset; i < end; i++) {
      const b = src[i]!;
      if (b === BACKSLASH) {
        buf[p++] = BACKSLASH;
        buf[p++] = BACKSLASH;
      } else if (b === TAB || b === LF || b === CR) {
        buf[p++] = BACKSLASH;
        buf[p++] = b === TAB ? 0x74 : b === LF ? 0x6e : 0x72;
      } else {
        buf[p++] = b;
      }
    }
    buf[p++] = LF;
    batch.length = p;
    batch.ends.push(p);
    if (this.mapped && batch.directComplete) this.directRow(batch, src, offset, length, keyed, hi, lo, eventMs);
  }

  /** The row just staged, in the table's layout: its escaped record copied from the staging row. */
  private directRow(batch: RowBatch, src: Uint8Array, offset: number, length: number, keyed: boolean, hi: number, lo: number, eventMs: number): void {
    const mapped = this.mapped!;
    const row = batch.rows - 1;
    const recordStart = batch.recordStarts[row]!;
    const recordEnd = batch.ends[row]!;
    const buf = batch.reserveDirect(recordEnd - recordStart + length * 2 * mapped.count + 8 * mapped.count + 64);
    let q = writeTimestamptz(buf, batch.directLength, eventMs);
    if (q >= 0) {
      buf[q++] = TAB;
      if (keyed) q = writeInt64(buf, q, hi, lo);
      else {
        buf[q++] = BACKSLASH;
        buf[q++] = 0x4e;
      }
      buf[q++] = TAB;
      q = mapped.write(buf, q, src, offset, offset + length);
    }
    if (q < 0) {
      batch.directComplete = false;
      return;
    }
    batch.buf.copy(buf, q, recordStart, recordEnd);
    batch.directLength = q + recordEnd - recordStart;
  }
}
