/**
 * Every error ordertail throws or rejects with is an OrdertailError with a
 * stable `code` from this one list (the README's table of error codes), so
 * callers and the CLI's exit-code mapping never match on message text.
 */

export const ERROR_CODES = [
  /** A bad option, flag or config value (CLI exit 2); `key` names it. A damaged checkpoint too (exit 2). */
  'ORDERTAIL_CONFIG',
  /** An explicitly requested parser (or dedup implementation) cannot load (exit 2). */
  'ORDERTAIL_PARSER_UNAVAILABLE',
  /** Another engine holds the checkpoint directory (exit 2). */
  'ORDERTAIL_CHECKPOINT_LOCKED',
  /** A parse worker failed (fatal, exit 1). */
  'ORDERTAIL_WORKER',
  /** The sink failed (fatal, exit 1). */
  'ORDERTAIL_SINK',
  /** start() on an engine that was started or stopped; reload() on one that is not running. */
  'ORDERTAIL_STARTED',
  /** records() after start(). */
  'ORDERTAIL_RECORDS_AFTER_START',
  /** records() called twice, or its iterator looped over twice. */
  'ORDERTAIL_RECORDS_REUSED',
  /** A records() loop or finished() waited on an engine never started, and nothing else kept the process alive: they throw rather than the process leaving silently. */
  'ORDERTAIL_NOT_STARTED',
  /** Internal: a checkpoint not committed because the records() loop did not take what it covers. */
  'ORDERTAIL_RECORDS_NOT_TAKEN',
  /** A metrics server option is invalid; `option` names it. */
  'ORDERTAIL_METRICS_OPTION',
  /** The metrics server could not listen on its host and port. */
  'ORDERTAIL_METRICS_LISTEN',
  /** A parse worker's result ring stayed full: the main thread took no slot for the stall limit. */
  'ORDERTAIL_RING_STALLED',
  /** Doorbell.wait() while a previous wait was pending (a bug in the caller). */
  'ORDERTAIL_DOORBELL_BUSY',
  /** A dedup bucket stayed locked for the stall limit (a thread died mid-insert). */
  'ORDERTAIL_DEDUP_STALLED',
  /** An input file was replaced while its descriptor was closed to save descriptors. */
  'ORDERTAIL_INPUT_IDENTITY_LOST',
  /** The collector's output failed. */
  'ORDERTAIL_COLLECTOR_SINK',
  /** A collector call after stop(). */
  'ORDERTAIL_COLLECTOR_STOPPED',
  /** A collector request abandoned because the collector is stopping. */
  'ORDERTAIL_COLLECTOR_ABORTED',
  /** `collect --once`: an exchange produced no record, only failures (exit 1; the causes in the message). */
  'ORDERTAIL_COLLECTOR_NOTHING_COLLECTED',
  /** `require('ordertail')` on a Node without require() of ES modules (cjs/index.cjs). */
  'ORDERTAIL_ESM_ONLY',
  /** The PostgreSQL sink's table exists but does not fit (exit 2); `column` names the column. */
  'ORDERTAIL_SINK_TABLE',
  /** The NATS sink's JetStream stream exists but does not fit (exit 2); `setting` names the setting. */
  'ORDERTAIL_SINK_STREAM',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The base of every ordertail error: `code` says what happened, `message` says where. */
export abstract class OrdertailError extends Error {
  abstract readonly code: ErrorCode;
}

/** A bad option, flag or config value; `key` names it (CLI exit 2). */
export class ConfigError extends OrdertailError {
  readonly code: ErrorCode = 'ORDERTAIL_CONFIG';
  override readonly name: string = 'ConfigError';
  constructor(
    message: string,
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Codes of EngineError: the engine's own failures and lifecycle misuse. */
export type EngineErrorCode = Extract<ErrorCode, 'ORDERTAIL_WORKER' | 'ORDERTAIL_SINK' | 'ORDERTAIL_STARTED' | 'ORDERTAIL_RECORDS_AFTER_START' | 'ORDERTAIL_RECORDS_REUSED' | 'ORDERTAIL_NOT_STARTED' | 'ORDERTAIL_RECORDS_NOT_TAKEN'>;

export class EngineError extends OrdertailError {
  override readonly name: string = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
