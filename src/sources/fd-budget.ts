/** What the budget needs of a file it may close. */
export interface FdHolder {
  readonly busy: boolean;
  closeFd(): void;
}

/**
 * Caps open file descriptors across followed files. Files are opened on demand
 * (planning a range, checking growth) and the least recently used idle one is
 * closed when the cap is reached; a file with ranges in flight keeps its
 * descriptor, so the cap can be exceeded by at most the ranges in flight.
 */
export class FdBudget {
  /** Open holders, least recently used first (Map keeps insertion order). */
  private readonly open = new Map<FdHolder, true>();
  /** Descriptors closed to stay under the cap (a gauge of churn). */
  evictions = 0;
  /**
   * The holder last moved to the end of `open`: touching it again changes
   * nothing (a live file's descriptor is used thousands of times a second).
   */
  private newest: FdHolder | undefined;

  constructor(readonly max: number) {}

  get openCount(): number {
    return this.open.size;
  }

  opened(holder: FdHolder): void {
    this.open.delete(holder);
    this.open.set(holder, true);
    this.newest = holder;
    if (this.open.size > this.max) this.evictIdle(holder);
  }

  touch(holder: FdHolder): void {
    if (holder === this.newest || !this.open.has(holder)) return;
    this.open.delete(holder);
    this.open.set(holder, true);
    this.newest = holder;
  }

  closed(holder: FdHolder): void {
    this.open.delete(holder);
    if (holder === this.newest) this.newest = undefined;
  }

  private evictIdle(keep: FdHolder): void {
    for (const holder of this.open.keys()) {
      if (this.open.size <= this.max) return;
      if (holder === keep || holder.busy) continue;
      holder.closeFd();
      this.evictions++;
    }
  }
}
