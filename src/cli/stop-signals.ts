/**
 * SIGINT, SIGTERM and SIGHUP all ask for a graceful stop. They are caught
 * from the first moment of a run (bin/ordertail.js installs the listeners
 * before the CLI loads): a signal during start-up is remembered and honoured
 * once start-up is done (exit 0 after a clean stop), instead of killing the
 * process with 128 + n. A second signal of the same kind gets the default
 * action (an impatient operator's way out).
 */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** What bin/ordertail.js leaves on globalThis. */
interface EarlyLatch {
  received: StopSignal | undefined;
  forward: ((signal: StopSignal) => void) | undefined;
  handler: (signal: StopSignal) => void;
}
const EARLY_LATCH = Symbol.for('ordertail.earlyStopSignal');

export class StopSignals {
  received: StopSignal | undefined;
  private readonly waiters: ((signal: StopSignal) => void)[] = [];
  private readonly latch: EarlyLatch;

  constructor() {
    const global = globalThis as Record<symbol, EarlyLatch | undefined>;
    // The latch's listeners are kept, not replaced: removing a listener drops a
    // signal that was caught but not yet dispatched to it.
    let latch = global[EARLY_LATCH];
    if (!latch) {
      const own: EarlyLatch = {
        received: undefined,
        forward: undefined,
        handler: (signal) => {
          process.removeListener(signal, own.handler);
          own.received ??= signal;
          own.forward?.(signal);
        },
      };
      for (const signal of STOP_SIGNALS) process.on(signal, own.handler);
      latch = global[EARLY_LATCH] = own;
    }
    this.latch = latch;
    this.received = latch.received;
    latch.forward = (signal) => {
      this.received ??= signal;
      for (const wake of this.waiters.splice(0)) wake(signal);
    };
  }

  /** Resolves at the first stop signal (at once if one already came). */
  wait(): Promise<StopSignal> {
    if (this.received) return Promise.resolve(this.received);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Back to the default actions (the run is over). */
  dispose(): void {
    for (const signal of STOP_SIGNALS) process.removeListener(signal, this.latch.handler);
    this.latch.forward = undefined;
    delete (globalThis as Record<symbol, EarlyLatch | undefined>)[EARLY_LATCH];
  }
}
