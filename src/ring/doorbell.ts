/**
 * Doorbell: lets the one consumer (main thread) sleep on ALL rings with ONE
 * `Atomics.waitAsync`, and lets any producer wake it. Layout in layout.ts.
 *
 * ─── Protocol (lost-wakeup free) ────────────────────────────────────────────
 *   consumer wait():                       producer after publishing TAIL:
 *     C1 CONSUMER_WAITING = 1 on each ring   P1 Atomics.store(TAIL)
 *     C2 s = Atomics.load(SEQ)               P2 if Atomics.load(CONSUMER_WAITING):
 *     C3 any ring readable? → return           P3   Atomics.add(SEQ, 1)
 *     C4 Atomics.waitAsync(SEQ, s, timeout)    P4   Atomics.notify(SEQ)
 *
 *   Atomics are sequentially consistent, so take the single order of C1 and P2:
 *   - P2 before C1: then P1 (before P2) precedes C3, and C3 sees the data.
 *   - C1 before P2: the producer sees the flag and does P3/P4. If P3 precedes
 *     C4's value check, waitAsync returns 'not-equal' at once; otherwise the
 *     waiter is already queued when P4 notifies. Either way the consumer wakes.
 *   The producer touches SEQ only when someone sleeps, so a busy pipeline never
 *   writes this shared line. A wake can be spurious (a flag still set from a
 *   previous sleep); callers simply drain and find nothing.
 *
 * The timeout is not a failure: the consumer uses it to look at shutdown, health
 * and flush timers. wait() resolves 'timed-out' and the caller decides.
 */

import {
  DOORBELL_BYTES,
  DOORBELL_MAGIC,
  DOORBELL_MAGIC_VALUE,
  DOORBELL_SEQ,
} from './layout.js';
import { DoorbellBusyError } from './errors.js';
import { atomicsWaitAsync } from './wait.js';

/** What the Doorbell needs from a ring's consumer end (RingConsumer implements it). */
export interface DoorbellRing {
  /** Store this ring's CONSUMER_WAITING flag. */
  setWaiting(on: boolean): void;
  /** Readable slots right now (one Atomics.load). */
  available(): number;
}

export type DoorbellWaitResult = 'ready' | 'timed-out';

const READY: Promise<DoorbellWaitResult> = Promise.resolve('ready');

export class Doorbell {
  readonly #sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  #pending = false;

  private constructor(sab: SharedArrayBuffer) {
    this.#sab = sab;
    this.#i32 = new Int32Array(sab);
  }

  /** A new doorbell; share `sharedBuffer` with every producer. */
  static create(): Doorbell {
    const sab = new SharedArrayBuffer(DOORBELL_BYTES);
    const bell = new Doorbell(sab);
    Atomics.store(bell.#i32, DOORBELL_MAGIC, DOORBELL_MAGIC_VALUE);
    return bell;
  }

  /** The same doorbell in another thread. */
  static attach(sab: SharedArrayBuffer): Doorbell {
    if (
      !(sab instanceof SharedArrayBuffer) ||
      sab.byteLength !== DOORBELL_BYTES ||
      Atomics.load(new Int32Array(sab), DOORBELL_MAGIC) !== DOORBELL_MAGIC_VALUE
    ) {
      throw new TypeError('doorbell buffer must be a SharedArrayBuffer made by Doorbell.create');
    }
    return new Doorbell(sab);
  }

  get sharedBuffer(): SharedArrayBuffer {
    return this.#sab;
  }

  /**
   * Producer side (steps P3-P4): wake the consumer. Call only after the data is
   * published and only if the ring's CONSUMER_WAITING flag was seen set.
   */
  ring(): void {
    Atomics.add(this.#i32, DOORBELL_SEQ, 1);
    Atomics.notify(this.#i32, DOORBELL_SEQ);
  }

  /**
   * Consumer side (steps C1-C4): resolve 'ready' once any of `rings` may have
   * readable slots, or 'timed-out' after `timeoutMs`. Never blocks the thread.
   * One wait at a time; a second concurrent call rejects with DoorbellBusyError.
   */
  wait(rings: readonly DoorbellRing[], timeoutMs: number): Promise<DoorbellWaitResult> {
    if (!(timeoutMs >= 0)) {
      return Promise.reject(new RangeError(`timeoutMs must be >= 0, got ${timeoutMs}`));
    }
    if (this.#pending) return Promise.reject(new DoorbellBusyError());

    for (const r of rings) r.setWaiting(true); // C1
    const seq = Atomics.load(this.#i32, DOORBELL_SEQ); // C2
    for (const r of rings) {
      if (r.available() > 0) {
        // C3: data arrived between the caller's last drain and C1.
        clearWaiting(rings);
        return READY;
      }
    }
    let res;
    try {
      res = atomicsWaitAsync(this.#i32, DOORBELL_SEQ, seq, timeoutMs); // C4
    } catch (err) {
      clearWaiting(rings);
      return Promise.reject(err);
    }
    if (!res.async) {
      clearWaiting(rings);
      return res.value === 'not-equal' ? READY : Promise.resolve('timed-out');
    }
    this.#pending = true;
    return res.value.then((v) => {
      this.#pending = false;
      clearWaiting(rings);
      return v === 'ok' ? 'ready' : 'timed-out';
    });
  }
}

function clearWaiting(rings: readonly DoorbellRing[]): void {
  for (const r of rings) r.setWaiting(false);
}
