/*
 * Records → rows of COPY's text format, in one of two layouts:
 *
 * - the table's own (event_time, key_hash, mapped columns…, record), when
 *   the encoder is given the mapped columns: a batch is copied straight into
 *   the table when every row could be written so (batch-writer.ts);
 * - the staging table's (key_hi int, key_lo int, event_ms double precision,
 *   record text), which the database turns into the table's with INSERT …
 *   SELECT … ON CONFLICT: written by an encoder without columns (rollup=),
 *   or made from the direct rows by stage() when a batch needs that path.
 *
 * Direct rows are written by the addon when it loads (native-rows.ts, one
 * call per parser call's slots), else here in JS; the bytes are the same.
 *
 * The sink sees only record bytes, so it parses them again
 * (sinks/record-slots.ts) to get the same 64-bit key hash and event time the
 * engine deduplicated on: a row written by another engine or before a crash
 * carries the same key, and ON CONFLICT finds it.
 */
import { SLOT_F64_WORDS, SLOT_WORDS, Status, STATUS_CODE_MASK, W_EVENT_TIME_F64, W_HASH_HI, W_HASH_LO, W_LENGTH, W_OFFSET, W_STATUS } from '../../parser/contract.js';
import type { MappedColumn } from '../../config/postgres-columns.js';
import { RecordSlotReader, type RecordSlotOptions } from '../record-slots.js';
import { copyEscaped, writeDouble, writeInt64, writeTimestamptz } from './copy-text.js';
import { MappedValueWriter } from './mapped-values.js';
import { loadNativeDirectRows, ROW_WORDS, type NativeDirectRows } from './native-rows.js';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const NULL_FIELD = Buffer.from('\\N\t\\N\t');

/** The record's bytes into COPY text at buf[p]; `plain`: none of them needs escaping. Returns the end. */
function putRecord(buf: Buffer, p: number, src: Uint8Array, from: number, to: number, plain: boolean): number {
  if (plain) {
    // A plain view (subarray of a Buffer would construct a Buffer) and a native copy: faster than a byte loop.
    buf.set(new Uint8Array(src.buffer, src.byteOffset + from, to - from), p);
    return p + to - from;
  }
  return copyEscaped(buf, p, src, from, to);
}

/** A staging row's key_hi, key_lo and event_ms columns (NULL key when not keyed), each followed by a tab. */
function putStagingColumns(buf: Buffer, p: number, keyed: boolean, hi: number, lo: number, eventMs: number): number {
  if (keyed) {
    p = writeDouble(buf, p, hi);
    buf[p++] = TAB;
    p = writeDouble(buf, p, lo);
    buf[p++] = TAB;
  } else {
    p += NULL_FIELD.copy(buf, p);
  }
  p = writeDouble(buf, p, eventMs);
  buf[p++] = TAB;
  return p;
}

/** Most bytes a direct row of a `length`-byte record takes: every byte escaped in the record and in each mapped value, plus time, key and separators. */
function directRowRoom(columns: number, length: number): number {
  return length * 2 * (columns + 1) + 8 * columns + 80;
}

function grow(buf: Buffer, used: number, n: number, minimum: number): Buffer {
  const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, used + n, minimum));
  buf.copy(grown, 0, 0, used);
  return grown;
}

/** A batch's rows in COPY text, with where each row and its record start and end. */
export class RowBatch {
  /** Staging rows (allocated at the first: a batch copied straight into the table never needs them). */
  buf: Buffer = Buffer.alloc(0);
  length = 0;
  /** End (exclusive) of staging row i in buf. */
  readonly ends: number[] = [];
  /** Where staging row i's record field starts (for dead letters). */
  readonly recordStarts: number[] = [];

  /** Rows in the table's layout (written by an encoder given the columns). */
  direct: Buffer | undefined;
  directLength = 0;
  /** Every direct row has its columns; once false, later rows hold only their record. */
  directComplete = true;
  /**
   * Per direct row, ROW_WORDS numbers: where its record starts and the row
   * ends in `direct`, then what its staging row needs: the key's halves (hi
   * NaN: no key) and the event time. A typed array the addon writes into.
   */
  directRowWords = new Float64Array(0);
  directRows = 0;

  /** @param capacity bytes each layout's buffer starts with, once it is first written */
  constructor(private readonly capacity = 1 << 20) {}

  get rows(): number {
    return Math.max(this.ends.length, this.directRows);
  }

  /** Bytes staged, either layout. */
  get bytes(): number {
    return this.length + this.directLength;
  }

  /** Staging row i's start. */
  start(i: number): number {
    return i === 0 ? 0 : this.ends[i - 1]!;
  }

  /** The staging COPY text of rows [from, to) (after stage() for a batch of direct rows). */
  slice(from: number, to: number): Buffer {
    return this.buf.subarray(this.start(from), to === 0 ? 0 : this.ends[to - 1]!);
  }

  /** The rows in the table's layout, when every row has one. */
  directText(): Buffer | undefined {
    return this.directComplete && this.direct && this.directLength > 0 ? this.direct.subarray(0, this.directLength) : undefined;
  }

  /** Staging rows made from the direct rows (once; the staging path needs them). */
  stage(): void {
    const direct = this.direct;
    if (!direct) return;
    const words = this.directRowWords;
    for (let i = this.ends.length; i < this.directRows; i++) {
      const w = i * ROW_WORDS;
      const recordStart = words[w]!;
      const recordEnd = words[w + 1]!;
      this.reserve(recordEnd - recordStart + 64);
      const buf = this.buf;
      let p = this.length;
      const hi = words[w + 2]!;
      p = putStagingColumns(buf, p, hi === hi, hi, words[w + 3]!, words[w + 4]!);
      this.recordStarts.push(p);
      p += direct.copy(buf, p, recordStart, recordEnd);
      this.length = p;
      this.ends.push(p);
    }
  }

  /** Row i's record as it was read (COPY escapes undone). */
  record(i: number): string {
    const [text, from, to] = i < this.ends.length ? [this.buf, this.recordStarts[i]!, this.ends[i]! - 1] : [this.direct!, this.directRowWords[i * ROW_WORDS]!, this.directRowWords[i * ROW_WORDS + 1]! - 1];
    return text.toString('utf8', from, to).replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  }

  clear(): void {
    this.length = 0;
    this.ends.length = 0;
    this.recordStarts.length = 0;
    this.directLength = 0;
    this.directComplete = true;
    this.directRows = 0;
  }

  /** Room for `n` more bytes of staging rows. */
  reserve(n: number): void {
    if (this.length + n > this.buf.length) this.buf = grow(this.buf, this.length, n, this.capacity);
  }

  /** Room in directRowWords for `n` more rows; returns the view from the next row on. */
  reserveDirectRows(n: number): Float64Array {
    const need = (this.directRows + n) * ROW_WORDS;
    if (need > this.directRowWords.length) {
      const grown = new Float64Array(Math.max(this.directRowWords.length * 2, need, 4096 * ROW_WORDS));
      grown.set(this.directRowWords.subarray(0, this.directRows * ROW_WORDS));
      this.directRowWords = grown;
    }
    return this.directRowWords.subarray(this.directRows * ROW_WORDS);
  }

  /** One direct row written by the JS encoder. */
  pushDirectRow(recordStart: number, end: number, keyHi: number, keyLo: number, eventMs: number): void {
    if ((this.directRows + 1) * ROW_WORDS > this.directRowWords.length) this.reserveDirectRows(1);
    const words = this.directRowWords;
    const w = this.directRows++ * ROW_WORDS;
    words[w] = recordStart;
    words[w + 1] = end;
    words[w + 2] = keyHi;
    words[w + 3] = keyLo;
    words[w + 4] = eventMs;
  }

  /** Room for `n` more bytes of direct rows. */
  reserveDirect(n: number): Buffer {
    this.direct ??= Buffer.alloc(0);
    if (this.directLength + n > this.direct.length) this.direct = grow(this.direct, this.directLength, n, this.capacity);
    return this.direct;
  }
}

export interface RowEncoderOptions extends RecordSlotOptions {
  /** The table's mapped columns: given, rows are written in the table's layout. */
  readonly columns?: readonly MappedColumn[] | undefined;
  /** Direct rows by the addon when it loads (default true); false: always the JS encoder. */
  readonly native?: boolean;
}

/** Turns newline-terminated record batches (what a Sink is written) into rows. */
export class RowEncoder {
  private readonly records: RecordSlotReader;
  private readonly mapped: MappedValueWriter | undefined;
  private readonly native: NativeDirectRows | undefined;

  constructor(options: RowEncoderOptions) {
    this.records = new RecordSlotReader(options);
    this.mapped = options.columns ? new MappedValueWriter(options.columns) : undefined;
    this.native = options.columns && options.native !== false ? loadNativeDirectRows(options.columns) : undefined;
  }

  /** Whether direct rows are written by the addon. */
  get nativeRows(): boolean {
    return this.native !== undefined;
  }

  /** Append a row per record of `chunk` to `batch`; returns the rows added. */
  encode(chunk: Uint8Array, batch: RowBatch, arrivalEpochMs: number): number {
    let added = 0;
    // Three scans of the chunk in native code spare a test per byte in most chunks (LF only ends records).
    const plain = chunk.indexOf(BACKSLASH) < 0 && chunk.indexOf(TAB) < 0 && chunk.indexOf(CR) < 0;
    if (this.native) return this.encodeNative(this.native, chunk, batch, arrivalEpochMs, plain);
    this.records.forEachSlot(chunk, (slots, f64, s) => {
      const w = s * SLOT_WORDS;
      const code = slots[w + W_STATUS]! & STATUS_CODE_MASK;
      // The engine accepted every record it wrote; anything else here is not a record.
      if (code !== Status.KEYED && code !== Status.UNKEYED) return;
      const t = f64[s * SLOT_F64_WORDS + W_EVENT_TIME_F64]!;
      const eventMs = t === t ? t : arrivalEpochMs;
      const keyed = code === Status.KEYED;
      if (this.mapped) this.directRow(batch, chunk, slots[w + W_OFFSET]!, slots[w + W_LENGTH]!, keyed, slots[w + W_HASH_HI]!, slots[w + W_HASH_LO]!, eventMs, plain);
      else this.stagingRow(batch, chunk, slots[w + W_OFFSET]!, slots[w + W_LENGTH]!, keyed, slots[w + W_HASH_HI]!, slots[w + W_HASH_LO]!, eventMs, plain);
      added++;
    });
    return added;
  }

  private encodeNative(native: NativeDirectRows, chunk: Uint8Array, batch: RowBatch, arrivalEpochMs: number, plain: boolean): number {
    const columns = this.mapped!.count;
    let added = 0;
    this.records.forEachParse(chunk, (slots, _f64, count) => {
      for (let first = 0; first < count; ) {
        // Room for what the rest of a chunk usually takes, and for the next record at worst: the
        // call stops before a row it has no room for, and the next round grows the buffer.
        const out = batch.reserveDirect(Math.max(2 * chunk.length, directRowRoom(columns, slots[first * SLOT_WORDS + W_LENGTH]!)));
        const rows = batch.reserveDirectRows(count - first);
        const done = native.encode(chunk, slots, first, count, arrivalEpochMs, plain, batch.directComplete, out, batch.directLength, rows);
        batch.directLength = done.end;
        batch.directComplete = done.complete;
        batch.directRows += done.rows;
        added += done.rows;
        first = done.next;
      }
    });
    return added;
  }

  private stagingRow(batch: RowBatch, src: Uint8Array, offset: number, length: number, keyed: boolean, hi: number, lo: number, eventMs: number, plain: boolean): void {
    // Worst case: every byte escaped, plus the numbers and separators.
    batch.reserve(length * 2 + 64);
    const buf = batch.buf;
    let p = batch.length;
    p = putStagingColumns(buf, p, keyed, hi, lo, eventMs);
    batch.recordStarts.push(p);
    p = putRecord(buf, p, src, offset, offset + length, plain);
    buf[p++] = LF;
    batch.length = p;
    batch.ends.push(p);
  }

  private directRow(batch: RowBatch, src: Uint8Array, offset: number, length: number, keyed: boolean, hi: number, lo: number, eventMs: number, plain: boolean): void {
    const mapped = this.mapped!;
    const buf = batch.reserveDirect(directRowRoom(mapped.count, length));
    const rowStart = batch.directLength;
    let q = rowStart;
    if (batch.directComplete) {
      q = writeTimestamptz(buf, q, eventMs);
      if (q >= 0) {
        buf[q++] = TAB;
        if (keyed) {
          q = writeInt64(buf, q, hi, lo);
        } else {
          buf[q++] = BACKSLASH;
          buf[q++] = 0x4e;
        }
        buf[q++] = TAB;
        q = mapped.write(buf, q, src, offset, offset + length);
      }
      if (q < 0) {
        // Left to the database: this batch takes the staging path, which needs only the record.
        batch.directComplete = false;
        q = rowStart;
      }
    }
    const recordStart = q;
    q = putRecord(buf, q, src, offset, offset + length, plain);
    buf[q++] = LF;
    batch.directLength = q;
    batch.pushDirectRow(recordStart, q, keyed ? hi : Number.NaN, lo, eventMs);
  }
}
