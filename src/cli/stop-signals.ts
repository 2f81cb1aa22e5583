/**
 * SIGINT and SIGTERM ask for a graceful stop. SIGHUP does too, unless the run
 * has a `--config` file: then it asks for a reload of that file (cli/config-reloader.ts)
 * and the run goes on. They are caught from the first moment of a run
 * (bin/ordertail.js installs the listeners before the CLI loads): a stop
 * signal during start-up is remembered and honoured once start-up is done
 * (exit 0 after a clean stop), instead of killing the process with 128 + n; a
 * SIGHUP during start-up of a run with a config file is one reload once
 * started. A second stop signal of the same kind gets the default action (an
 * impatient operator's way out); SIGHUPs that reload never do.
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
  /** With a config file: SIGHUP reloads (set by reloadOnHangup()). */
  private hangup: (() => void) | undefined;
  /** A SIGHUP came before reloadOnHangup() had a reloader to call. */
  private hangupPending = false;
  private readonly onHangup = (): void => {
    if (this.hangup) this.hangup();
    else this.hangupPending = true;
  };

  /** @param hangupReloads the run has a config file: SIGHUP is a reload, not a stop */
  constructor(private readonly hangupReloads = false) {
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
      for (const signal of STOP_SIGNALS) if (!(hangupReloads && signal === 'SIGHUP')) process.on(signal, own.handler);
      latch = global[EARLY_LATCH] = own;
    }
    this.latch = latch;
    if (hangupReloads) {
      // Ours first, then the latch's off SIGHUP: never a moment without a listener (the default action ends the process).
      process.on('SIGHUP', this.onHangup);
      process.removeListener('SIGHUP', latch.handler);
      if (latch.received === 'SIGHUP') {
        latch.received = undefined;
        this.hangupPending = true;
      }
    }
    this.received = latch.received;
    latch.forward = (signal) => {
      // A SIGHUP the latch caught before its listener came off: a reload, as above.
      if (hangupReloads && signal === 'SIGHUP') return this.onHangup();
      this.received ??= signal;
      for (const wake of this.waiters.splice(0)) wake(signal);
    };
  }

  /** SIGHUP calls `reload` from now on (a SIGHUP already caught calls it at once). Only with a config file. */
  reloadOnHangup(reload: () => void): void {
    if (!this.hangupReloads) return;
    this.hangup = reload;
    if (this.hangupPending) {
      this.hangupPending = false;
      reload();
    }
  }

  /** Resolves at the first stop signal (at once if one already came). */
  wait(): Promise<StopSignal> {
    if (this.received) return Promise.resolve(this.received);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Back to the default actions (the run is over). */
  dispose(): void {
    for (const signal of STOP_SIGNALS) process.removeListener(signal, this.latch.handler);
    process.removeListener('SIGHUP', this.onHangup);
    this.latch.forward = undefined;
    delete (globalThis as Record<symbol, EarlyLatch | undefined>)[EARLY_LATCH];
  }
}
