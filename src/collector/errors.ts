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

/** What a failed exchange operation is described by (poller.ts's OperationFailure). */
export interface FailureCause {
  operation: string;
  errorClass: string;
  attempts: number;
  httpStatus?: number;
  message: string;
}

/** `markets ExchangeNotAvailable (HTTP 503) after 3 attempts: bybit GET https://… 503 Service Unavailable …`. */
export function describeFailure(f: FailureCause): string {
  return `${f.operation} ${f.errorClass}${f.httpStatus !== undefined ? ` (HTTP ${f.httpStatus})` : ''}${f.attempts > 1 ? ` after ${f.attempts} attempts` : ''}: ${f.message}`;
}

/** `collect --once`: an exchange produced no record, only failures. */
export class CollectorOnceError extends OrdertailError {
  readonly code = 'ORDERTAIL_COLLECTOR_NOTHING_COLLECTED' as const;
  override readonly name = 'CollectorOnceError';
  constructor(readonly exchanges: readonly string[]) {
    super(`nothing collected from ${exchanges.join(', ')}`);
  }
}
