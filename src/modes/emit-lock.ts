/*
 * Hybrid mode runs two pipelines (live and batch) into one dedup table and
 * one sink. Their emit passes take turns under this lock: a checkpoint of the
 * live pipeline (flush, then commit keys and offsets) must never see keys the
 * batch pipeline added after the flush, or a crash would lose those records.
 */
export class EmitLock {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  /** Taken at once when free: the common case costs no promise. */
  tryAcquire(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Hands the lock to the next waiter (still held), or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}
