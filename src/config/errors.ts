/**
 * Errors that carry a stable `code`, so callers (and the CLI's exit code mapping)
 * never have to match on message text.
 */
export class ConfigError extends Error {
  readonly code = 'ORDERTAIL_CONFIG';
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Codes of EngineError (listed in the README). */
export type EngineErrorCode =
  /** A parse worker failed (fatal). */
  | 'ORDERTAIL_WORKER'
  /** The sink failed (fatal). */
  | 'ORDERTAIL_SINK'
  /** start() on an engine that was started or stopped. */
  | 'ORDERTAIL_STARTED'
  /** records() after start(). */
  | 'ORDERTAIL_RECORDS_AFTER_START'
  /** records() called twice, or its iterator looped over twice. */
  | 'ORDERTAIL_RECORDS_REUSED'
  /** Internal: a checkpoint not committed because the records() loop did not take what it covers. */
  | 'ORDERTAIL_RECORDS_NOT_TAKEN';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
