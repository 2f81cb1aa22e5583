/**
 * Keys the emit stage inserted as NEW since the last full dedup snapshot, in
 * order: 16 bytes each (Int32 hashLo, Int32 hashHi, Float64 time), the same
 * record shape as DedupTable.exportEntries. A checkpoint then writes only this
 * (proportional to what is new) instead of scanning the whole table, and a
 * restart replays it over the last full snapshot, which reproduces the table
 * (inserts are deterministic).
 *
 * Bytes once written are never changed: growing or starting over allocates a
 * new buffer, so a checkpoint may write a prefix of it off the main thread.
 */
export class DedupJournal {
  private buffer: ArrayBuffer;
  private i32: Int32Array;
  private f64: Float64Array;
  length = 0;

  constructor(private readonly initialEntries = 65_536) {
    this.buffer = new ArrayBuffer(initialEntries * 16);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
  }

  /** Record a NEW insert; the time is read from `times[timeIndex]` (no boxing). */
  push(hashLo: number, hashHi: number, times: Float64Array, timeIndex: number): void {
    if (this.length * 2 === this.f64.length) this.grow();
    const e = this.length++;
    this.i32[e * 4] = hashLo;
    this.i32[e * 4 + 1] = hashHi;
    this.f64[e * 2 + 1] = times[timeIndex]!;
  }

  private grow(): void {
    const next = new ArrayBuffer(this.buffer.byteLength * 2);
    new Uint8Array(next).set(new Uint8Array(this.buffer, 0, this.length * 16));
    this.buffer = next;
    this.i32 = new Int32Array(next);
    this.f64 = new Float64Array(next);
  }

  /** The entries so far, as bytes (stable: later pushes never change them). */
  bytes(): Uint8Array {
    return new Uint8Array(this.buffer, 0, this.length * 16);
  }

  /** A full snapshot was taken: start over in a fresh buffer. */
  reset(): void {
    this.buffer = new ArrayBuffer(this.initialEntries * 16);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.length = 0;
  }
}
