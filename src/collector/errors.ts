/**
 * Named failures of the collector, each with a stable `code` (as undici's
 * errors have). Exchange failures keep ccxt's own classes: their names are the
 * `class` label of the error metrics and decide retry (see error-class.ts).
 */
import { OrdertailError } from '../errors.js';

/** The sink refused a batch (disk full, closed pipe); the collector stops. */
export class CollectorSinkError extends OrdertailError {
  readonly code = 'ORDERTAIL_COLLECTOR_SINK' as const;
  override readonly name = 'CollectorSinkError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** start()/pollOnce() on a collector that was stopped. */
export class CollectorStoppedError extends OrdertailError {
  readonly code = 'ORDERTAIL_COLLECTOR_STOPPED' as const;
  override readonly name = 'CollectorStoppedError';
  constructor(message = 'the collector was stopped') {
    super(message);
  }
}

/** A wait (concurrency slot, backoff sleep) ended because the collector is stopping. */
export class CollectorAbortedError extends OrdertailError {
  readonly code = 'ORDERTAIL_COLLECTOR_ABORTED' as const;
  override readonly name = 'CollectorAbortedError';
  constructor(message = 'aborted: the collector is stopping') {
    super(message);
  }
}
