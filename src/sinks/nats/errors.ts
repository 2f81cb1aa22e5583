import { ConfigError } from '../../config/errors.js';
import type { ErrorCode } from '../../errors.js';

/**
 * The sink's JetStream stream exists with a configuration that cannot give
 * exactly-once (a duplicate window shorter than the dedup window, other
 * storage or replicas than asked for, a subject it does not take…). Never
 * changed by the sink (other services depend on it): the operator decides.
 * A configuration problem, so the CLI exits 2.
 */
export class NatsStreamError extends ConfigError {
  override readonly code: ErrorCode = 'ORDERTAIL_SINK_STREAM';
  override readonly name: string = 'NatsStreamError';
  constructor(
    message: string,
    /** The stream setting that does not fit, as JetStream names it (duplicate_window, storage, …). */
    readonly setting: string,
  ) {
    super(message, 'sink');
  }
}
