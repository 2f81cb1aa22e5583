import { ConfigError } from '../../config/errors.js';
import type { ErrorCode } from '../../errors.js';

/**
 * The sink's table exists but cannot take the records: a column is missing or
 * has another type, or the dedup key's unique index is not there. Never
 * altered by the sink (it may hold a dashboard's data): the operator decides.
 * A configuration problem, so the CLI exits 2.
 */
export class SinkTableError extends ConfigError {
  override readonly code: ErrorCode = 'ORDERTAIL_SINK_TABLE';
  override readonly name: string = 'SinkTableError';
  constructor(
    message: string,
    /** The column (or index) that does not fit. */
    readonly column: string,
  ) {
    super(message, 'sink');
  }
}
