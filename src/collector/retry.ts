import { CollectorAbortedError } from './errors.js';

/**
 * Retries with exponential backoff and "equal jitter": the n-th retry waits a
 * uniform time in [cap/2, cap], cap = min(maxDelay, baseDelay × 2^n). Half the
 * cap is guaranteed so a rate-limited exchange is not hit again at once; the
 * random half spreads many collectors that failed together (AWS architecture
 * blog, "Exponential Backoff And Jitter").
 */
export interface RetryPolicy {
  /** Total tries including the first (1 = no retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export function backoffDelayMs(policy: RetryPolicy, retryIndex: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex);
  return cap / 2 + random() * (cap / 2);
}

export interface RetryHooks {
  /** Whether this failure may be tried again (temporary errors only). */
  retryable(err: unknown): boolean;
  /** Called before each wait; `attempt` is the try that just failed (1-based). */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
  /** Stop retrying (and cut a backoff wait short) when this aborts. */
  signal?: AbortSignal;
  /** Extra veto checked before each retry (e.g. the breaker opened meanwhile). */
  mayRetry?(): boolean;
  random?: () => number;
}

/** Run `fn` until it succeeds, fails permanently, or the tries run out; rejects with the last error. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, hooks: RetryHooks): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const last = attempt >= policy.attempts || !hooks.retryable(err) || hooks.signal?.aborted === true || hooks.mayRetry?.() === false;
      if (last) throw err;
      const delay = backoffDelayMs(policy, attempt - 1, hooks.random);
      hooks.onRetry?.(err, attempt, delay);
      try {
        await sleep(delay, hooks.signal);
      } catch {
        throw err; // stopping: report what actually went wrong, not the abort
      }
    }
  }
}

/** setTimeout as a promise that rejects with CollectorAbortedError when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new CollectorAbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CollectorAbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
