/**
 * Per-exchange circuit breaker.
 *
 *            K consecutive failures              cool-down elapsed,
 *   closed ─────────────────────────► open ───────────────────────► half-open
 *     ▲                                ▲      next tryAcquire()          │
 *     │          probe succeeded       │       probe failed              │
 *     └────────────────────────────────┼─────────────────────────────────┤
 *                                      └─────────────────────────────────┘
 *
 * Half-open admits exactly one request (the probe); the others are refused
 * until it settles. Outcomes are whole operations (after their retries), so a
 * transient blip that a retry absorbed is not a failure here.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failed operations that open the breaker (K). */
  failureThreshold: number;
  /** How long an open breaker refuses requests before a probe. */
  cooldownMs: number;
  /** Monotonic clock, ms (injectable for tests). */
  now?: () => number;
}

export type BreakerListener = (from: BreakerState, to: BreakerState) => void;

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(
    private readonly options: BreakerOptions,
    private readonly listener: BreakerListener = () => {},
  ) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new RangeError(`failureThreshold: expected an integer >= 1, got ${options.failureThreshold}`);
    }
    if (!(options.cooldownMs >= 0)) throw new RangeError(`cooldownMs: expected >= 0, got ${options.cooldownMs}`);
    this.now = options.now ?? (() => performance.now());
  }

  get state(): BreakerState {
    return this.current;
  }

  /** May a request go out now? Moves open → half-open once the cool-down has passed. */
  tryAcquire(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.options.cooldownMs) return false;
      this.transition('half-open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Milliseconds until an open breaker admits a probe; 0 otherwise. */
  retryInMs(): number {
    if (this.current !== 'open') return 0;
    return Math.max(0, this.options.cooldownMs - (this.now() - this.openedAt));
  }

  onSuccess(): void {
    if (this.current === 'half-open') {
      this.probing = false;
      this.failures = 0;
      this.transition('closed');
    } else if (this.current === 'closed') {
      this.failures = 0;
    }
    // open: a request admitted before the breaker opened came back fine; the
    // probe after the cool-down decides, so one lucky answer does not flap it.
  }

  onFailure(): void {
    if (this.current === 'half-open') {
      this.probing = false;
      this.open();
    } else if (this.current === 'closed' && ++this.failures >= this.options.failureThreshold) {
      this.open();
    }
  }

  /** A probe that never ran (stopped before sending) gives its turn back. */
  release(): void {
    if (this.current === 'half-open') this.probing = false;
  }

  private open(): void {
    this.openedAt = this.now();
    this.failures = 0;
    this.transition('open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.listener(from, to);
  }
}

/** Gauge encoding of the state (prom-client gauges are numbers). */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, 'half-open': 2 };
