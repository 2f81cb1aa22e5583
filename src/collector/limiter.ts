import { CollectorAbortedError } from './errors.js';

/**
 * Caps in-flight HTTP requests across all exchanges. Waiters are served in
 * arrival order (FIFO) so no exchange starves; the queue advances a cursor and
 * compacts in batches instead of shift()ing per request.
 *
 * A slow exchange holds at most its own in-flight requests (two per cycle),
 * each bounded by its timeout, so with `limit` ≥ 2 × exchanges it never makes
 * another exchange wait for a slot.
 */
type Waiter = { grant: (release: () => void) => void; reject: (err: Error) => void; done: boolean };

export class ConcurrencyLimiter {
  private active = 0;
  private queue: Waiter[] = [];
  private head = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit: expected an integer >= 1, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Resolves with a release function (idempotent) once a slot is free. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new CollectorAbortedError());
    if (this.active < this.limit && this.waiting === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, reject, done: false };
      const onAbort = (): void => {
        if (waiter.done) return;
        waiter.done = true; // skipped when its turn comes
        reject(new CollectorAbortedError());
      };
      waiter.grant = (release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.next();
    };
  }

  private next(): void {
    while (this.active < this.limit && this.head < this.queue.length) {
      const waiter = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Waiter; // drop the closure now, compact later
      if (waiter.done) continue;
      waiter.done = true;
      this.active++;
      waiter.grant(this.releaser());
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
