/**
 * Named failures of the observability layer, each with a stable `code` (as
 * undici's core/errors.js does), so callers never match on message text.
 */
import { OrdertailError } from '../errors.js';

/** An option of the metrics server, sampler or logger is out of range. */
export class MetricsOptionError extends OrdertailError {
  readonly code = 'ORDERTAIL_METRICS_OPTION' as const;
  override readonly name = 'MetricsOptionError';

  constructor(
    message: string,
    /** The option, as the caller spelled it (`port`, `level`, `sampler.intervalMs`). */
    readonly option: string,
  ) {
    super(message);
  }
}

/** The metrics server could not bind (address in use, permission, bad host). */
export class MetricsListenError extends OrdertailError {
  readonly code = 'ORDERTAIL_METRICS_LISTEN' as const;
  override readonly name = 'MetricsListenError';

  constructor(host: string, port: number, options: { cause: unknown }) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`metrics server could not listen on ${host}:${port}: ${why}`, options);
  }
}
