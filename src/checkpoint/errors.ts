import { ConfigError } from '../config/errors.js';
import { OrdertailError } from '../errors.js';

/**
 * A checkpoint that exists but cannot be used. Never silently ignored: the
 * operator decides (repair, move it away, or --reset-checkpoint to start over).
 */
export class CheckpointError extends ConfigError {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown; subject?: string },
  ) {
    super(`${options?.subject ?? 'checkpoint'} ${file} ${problem}; move it away or start fresh with --reset-checkpoint (library: resetCheckpoint: true)`, 'checkpoint', options);
  }
}

/** Who holds a checkpoint directory's lock, as its lock file says. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO-8601). */
  since: string;
}

/**
 * Another engine is using this checkpoint directory. Two engines on one
 * directory would write the same sink twice and overwrite each other's
 * checkpoints, so the second one stops before touching anything.
 */
export class CheckpointLockedError extends OrdertailError {
  readonly code = 'ORDERTAIL_CHECKPOINT_LOCKED' as const;
  override readonly name = 'CheckpointLockedError';

  constructor(
    readonly lockFile: string,
    readonly holder: LockHolder,
  ) {
    super(
      `checkpoint ${lockFile} is held by pid ${holder.pid} on ${holder.host} (since ${holder.since}): another ordertail is running on the same inputs and sink; stop it, or give this one its own --checkpoint directory (and its own output file: one is written by one engine at a time)`,
    );
  }
}
