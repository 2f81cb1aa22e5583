/**
 * Keys the emit stage inserted as NEW since the last full dedup snapshot, in
 * order, as dedup entries (src/dedup/entries.ts), the same records as a
 * snapshot of held keys. A checkpoint then writes only this (proportional to
 * what is new) instead of scanning the whole table, and a restart replays it
 * over the last full snapshot, which reproduces the table (inserts are
 * deterministic).
 *
 * Kept in fixed-size chunks: growing never copies what is there (a copy of a
 * journal of millions of keys would hold the main thread, and with it the live
 * lane), and bytes once written never change, so a checkpoint may write them
 * off the main thread while pushes go on.
 *
 * Chunks a reset or a drop lets go are kept for the next pushes instead of
 * allocated again: at 300k keys/s a fresh megabyte every 200 ms, outside V8's
 * heap but counted by its GC scheduling, brought a full mark-compact (a pause
 * of the live lane) about every 2 s; reused, a third as many
 * (bench/RESULTS.md, "journal chunks reused").
 */
import { DedupEntries } from '../dedup/entries.js';
import { ENTRY_BYTES } from '../dedup/layout.js';

const CHUNK_ENTRIES = 65_536;
/** Let-go chunks kept for reuse (1 MiB each): a 4 Mi-entry journal's worth, its largest limit. */
const SPARE_CHUNKS_MAX = 64;

export class DedupJournal {
  private chunks: DedupEntries[] = [];
  private readonly spare: DedupEntries[] = [];
  private current!: DedupEntries;
  private inCurrent = 0;
  /** Entries of the first chunk already dropped (dropFirst). */
  private skipped = 0;
  length = 0;

  constructor() {
    this.reset();
  }

  /** Record a NEW insert; the time is read from `times[timeIndex]` (no boxing). */
  push(hashLo: number, hashHi: number, times: Float64Array, timeIndex: number): void {
    if (this.inCurrent === CHUNK_ENTRIES) {
      this.current = this.freshChunk();
      this.chunks.push(this.current);
      this.inCurrent = 0;
    }
    this.current.set(this.inCurrent++, hashLo, hashHi, times, timeIndex);
    this.length++;
  }

  /** Record every entry of `from` (a replayed journal that goes on being extended). */
  pushAll(from: DedupEntries): void {
    for (let e = 0; e < from.capacity; e++) this.push(from.hashLo(e), from.hashHi(e), from.f64, from.timeIndex(e));
  }

  /** The entries so far, as byte segments in order (stable: later pushes never change them). */
  segments(): Uint8Array[] {
    const last = this.chunks.length - 1;
    return this.chunks.map((chunk, i) => {
      const bytes = i < last ? chunk.bytes : chunk.prefix(this.inCurrent);
      return i === 0 ? bytes.subarray(this.skipped * ENTRY_BYTES) : bytes;
    });
  }

  /**
   * Forget the oldest `count` entries (a new snapshot holds them). Like
   * reset(), only while no segment handed out by segments() is still being
   * written: their chunks are reused.
   */
  dropFirst(count: number): void {
    if (count > this.length) throw new RangeError(`cannot drop ${count} of ${this.length} journal entries`);
    this.length -= count;
    let left = this.skipped + count;
    while (this.chunks.length > 1 && left >= CHUNK_ENTRIES) {
      this.letGo(this.chunks.shift()!);
      left -= CHUNK_ENTRIES;
    }
    this.skipped = left;
  }

  /** A full snapshot was taken: start over (see dropFirst() for when). */
  reset(): void {
    for (const chunk of this.chunks) this.letGo(chunk);
    this.current = this.freshChunk();
    this.chunks = [this.current];
    this.inCurrent = 0;
    this.skipped = 0;
    this.length = 0;
  }

  private freshChunk(): DedupEntries {
    return this.spare.pop() ?? DedupEntries.allocate(CHUNK_ENTRIES);
  }

  private letGo(chunk: DedupEntries): void {
    if (this.spare.length < SPARE_CHUNKS_MAX) this.spare.push(chunk);
  }
}
