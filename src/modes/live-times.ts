/*
 * When the live path emitted which bytes of a file: (end offset, epoch ms)
 * per emitted range, so the batch path can tell how long after the live path
 * it saw a record, from the record's offset alone. Kept per range, never per
 * record, so the live path pays one array push per range; bounded per file
 * (halved when full: the times found get coarser, later, never earlier) and
 * in files (the oldest dropped).
 */
const MAX_MARKS_PER_FILE = 4096;
const MAX_FILES = 1024;

interface Marks {
  ends: number[];
  times: number[];
}

export class LiveTimes {
  private readonly files = new Map<string, Marks>();
  /**
   * The last answer of timeAt() and the offsets it holds for: the batch path
   * asks record by record in file order, so most answers repeat the last.
   */
  private cachedIdentity: string | undefined;
  private cachedFrom = 0;
  private cachedTo = 0;
  private cachedTime: number | undefined;

  /** The live path has emitted every record of `identity` below `endOffset` by `atMs`. */
  note(identity: string, endOffset: number, atMs: number): void {
    if (identity === this.cachedIdentity) this.cachedIdentity = undefined;
    let m = this.files.get(identity);
    if (!m) {
      if (this.files.size >= MAX_FILES) this.files.delete(this.files.keys().next().value!);
      m = { ends: [], times: [] };
      this.files.set(identity, m);
    }
    const last = m.ends.length - 1;
    if (last >= 0 && endOffset <= m.ends[last]!) return;
    if (m.ends.length >= MAX_MARKS_PER_FILE) {
      // Every other mark kept: a record maps to the next kept one, emitted no earlier than it.
      m.ends = m.ends.filter((_, i) => i % 2 === 1);
      m.times = m.times.filter((_, i) => i % 2 === 1);
    }
    m.ends.push(endOffset);
    m.times.push(atMs);
  }

  /** When the live path had emitted the record starting at `offset` (undefined: it had not). */
  timeAt(identity: string, offset: number): number | undefined {
    if (identity === this.cachedIdentity && offset >= this.cachedFrom && offset < this.cachedTo) return this.cachedTime;
    const m = this.files.get(identity);
    if (!m) return undefined;
    const { ends } = m;
    let lo = 0;
    let hi = ends.length;
    // The first mark whose end lies past the record's start.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    this.cachedIdentity = identity;
    this.cachedFrom = lo === 0 ? 0 : ends[lo - 1]!;
    this.cachedTo = lo < ends.length ? ends[lo]! : Number.POSITIVE_INFINITY;
    this.cachedTime = lo < ends.length ? m.times[lo] : undefined;
    return this.cachedTime;
  }

  forget(identity: string): void {
    if (identity === this.cachedIdentity) this.cachedIdentity = undefined;
    this.files.delete(identity);
  }
}
