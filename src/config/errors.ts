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

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
