/**
 * Named failures of the result ring. Each has a stable `code` (for logs and
 * metrics labels) and a `name`, as undici's core/errors.js does.
 */
import { OrdertailError } from '../errors.js';

export interface RingStalledDetails {
  /** Slots of the current write() call that were published before giving up. */
  readonly written: number;
  /** Slots of the current write() call that were not published. */
  readonly remaining: number;
  /** How long the producer waited without the consumer freeing a single slot. */
  readonly waitedMs: number;
}

/**
 * The producer found the ring full and the consumer freed no slot for
 * `stallLimitMs`. Nothing was dropped: the first `written` slots of the batch
 * are in the ring, the caller still owns the other `remaining` ones.
 */
export class RingStalledError extends OrdertailError implements RingStalledDetails {
  readonly code = 'ORDERTAIL_RING_STALLED' as const;
  readonly written: number;
  readonly remaining: number;
  readonly waitedMs: number;

  constructor(details: RingStalledDetails, options?: { cause?: unknown }) {
    super(
      `result ring full: consumer freed no slot for ${Math.round(details.waitedMs)} ms ` +
        `(${details.written} slots of this batch published, ${details.remaining} still pending)`,
      options,
    );
    this.name = 'RingStalledError';
    this.written = details.written;
    this.remaining = details.remaining;
    this.waitedMs = details.waitedMs;
  }
}

/** A second Doorbell.wait() while one is pending: with one consumer this is a bug. */
export class DoorbellBusyError extends OrdertailError {
  readonly code = 'ORDERTAIL_DOORBELL_BUSY' as const;

  constructor() {
    super('Doorbell.wait() called while a previous wait is still pending');
    this.name = 'DoorbellBusyError';
  }
}
