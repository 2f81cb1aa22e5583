/**
 * Dedup entries outside the table (layout.ts, ENTRY_BYTES): the one place that
 * encodes and decodes them, for snapshots of held keys, checkpoint journals and
 * their replay.
 */
import { ENTRY_BYTES, ENTRY_F64, ENTRY_HASH_HI_I32, ENTRY_HASH_LO_I32, ENTRY_I32, ENTRY_TIME_F64 } from './layout.js';

export class DedupEntries {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** Entries the views hold room for. */
  readonly capacity: number;

  /** Views over `bytes`, a whole number of entries on an 8-byte boundary. */
  constructor(readonly bytes: Uint8Array) {
    if (bytes.byteLength % ENTRY_BYTES !== 0 || bytes.byteOffset % 8 !== 0) {
      throw new RangeError(`dedup entries must be ${ENTRY_BYTES}-byte records on an 8-byte boundary`);
    }
    this.capacity = bytes.byteLength / ENTRY_BYTES;
    this.i32 = new Int32Array(bytes.buffer, bytes.byteOffset, this.capacity * ENTRY_I32);
    this.f64 = new Float64Array(bytes.buffer, bytes.byteOffset, this.capacity * ENTRY_F64);
  }

  /** Room for `count` entries. */
  static allocate(count: number): DedupEntries {
    return new DedupEntries(new Uint8Array(new ArrayBuffer(count * ENTRY_BYTES)));
  }

  hashLo(e: number): number {
    return this.i32[e * ENTRY_I32 + ENTRY_HASH_LO_I32]!;
  }

  hashHi(e: number): number {
    return this.i32[e * ENTRY_I32 + ENTRY_HASH_HI_I32]!;
  }

  /** Index of entry e's time in `f64` (DedupTable.insertAt reads it there, unboxed). */
  timeIndex(e: number): number {
    return e * ENTRY_F64 + ENTRY_TIME_F64;
  }

  /** Entry e := (hashLo, hashHi, times[timeIndex]); the time is copied, never boxed. */
  set(e: number, hashLo: number, hashHi: number, times: Float64Array, timeIndex: number): void {
    this.i32[e * ENTRY_I32 + ENTRY_HASH_LO_I32] = hashLo;
    this.i32[e * ENTRY_I32 + ENTRY_HASH_HI_I32] = hashHi;
    this.f64[e * ENTRY_F64 + ENTRY_TIME_F64] = times[timeIndex]!;
  }

  /** The first `count` entries as bytes (a view, not a copy). */
  prefix(count: number): Uint8Array {
    return this.bytes.subarray(0, count * ENTRY_BYTES);
  }
}
