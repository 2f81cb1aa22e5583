/**
 * Keys the emit stage inserted as NEW since the last full dedup snapshot, in
 * order, as dedup entries (src/dedup/entries.ts), the same records as a
 * snapshot of held keys. A checkpoint then writes only this (proportional to
 * what is new) instead of scanning the whole table, and a restart replays it
 * over the last full snapshot, which reproduces the table (inserts are
 * deterministic).
 *
 * Bytes once written are never changed: growing or starting over allocates a
 * new buffer, so a checkpoint may write a prefix of it off the main thread.
 */
import { DedupEntries } from '../dedup/entries.js';

export class DedupJournal {
  private entries: DedupEntries;
  length = 0;

  constructor(private readonly initialEntries = 65_536) {
    this.entries = DedupEntries.allocate(initialEntries);
  }

  /** Record a NEW insert; the time is read from `times[timeIndex]` (no boxing). */
  push(hashLo: number, hashHi: number, times: Float64Array, timeIndex: number): void {
    if (this.length === this.entries.capacity) this.grow();
    this.entries.set(this.length++, hashLo, hashHi, times, timeIndex);
  }

  /** Record every entry of `from` (a replayed journal that goes on being extended). */
  pushAll(from: DedupEntries): void {
    for (let e = 0; e < from.capacity; e++) this.push(from.hashLo(e), from.hashHi(e), from.f64, from.timeIndex(e));
  }

  private grow(): void {
    const next = DedupEntries.allocate(this.entries.capacity * 2);
    next.bytes.set(this.entries.prefix(this.length));
    this.entries = next;
  }

  /** The entries so far, as bytes (stable: later pushes never change them). */
  bytes(): Uint8Array {
    return this.entries.prefix(this.length);
  }

  /** A full snapshot was taken: start over in a fresh buffer. */
  reset(): void {
    this.entries = DedupEntries.allocate(this.initialEntries);
    this.length = 0;
  }
}
