/** First retry after this long; each further one waits twice as long, up to the cap. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;

export interface Unread {
  path: string;
  /** The last error code (EACCES, EMFILE, …) or a short reason. */
  reason: string;
}

interface Pending<T> {
  attempts: number;
  dueAt: number;
  reason: string;
  context: T;
}

/**
 * Inputs that could not be opened for a reason that may go away (EMFILE,
 * EACCES, …): retried with exponential backoff instead of being skipped. With a
 * finite attempt budget (`--once`), a path that never opens is given up and
 * listed, so the run can say what it missed.
 */
export class OpenRetries<T> {
  private readonly pending = new Map<string, Pending<T>>();
  private readonly gaveUp = new Map<string, string>();

  constructor(private readonly maxAttempts: number) {}

  /**
   * Note a failed open. `first`: the first failure of this path since it last
   * opened (log it); `gaveUp`: its attempts are used up (it is now unread).
   */
  failed(path: string, reason: string, context: T, now: number): { first: boolean; gaveUp: boolean } {
    const entry = this.pending.get(path);
    const attempts = (entry?.attempts ?? 0) + 1;
    if (attempts > this.maxAttempts) {
      this.pending.delete(path);
      this.gaveUp.set(path, reason);
      return { first: false, gaveUp: true };
    }
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempts - 1));
    this.pending.set(path, { attempts, dueAt: now + delay, reason, context: entry?.context ?? context });
    return { first: !entry, gaveUp: false };
  }

  /** Opened after all (or no longer wanted): forget it. Returns the attempts it took, 0 if it was not pending. */
  settled(path: string): number {
    const entry = this.pending.get(path);
    this.pending.delete(path);
    return entry?.attempts ?? 0;
  }

  /** Paths whose next attempt is due, with what they were added with. */
  due(now: number): [string, T][] {
    const out: [string, T][] = [];
    for (const [path, entry] of this.pending) if (entry.dueAt <= now) out.push([path, entry.context]);
    return out;
  }

  /** When the next attempt is due (undefined: none pending). */
  get nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const entry of this.pending.values()) if (next === undefined || entry.dueAt < next) next = entry.dueAt;
    return next;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Record a path that cannot be read at all (no retry would help). */
  giveUp(path: string, reason: string): void {
    this.pending.delete(path);
    this.gaveUp.set(path, reason);
  }

  /** Inputs given up on, in the order they were. */
  get unread(): Unread[] {
    return [...this.gaveUp].map(([path, reason]) => ({ path, reason }));
  }
}
