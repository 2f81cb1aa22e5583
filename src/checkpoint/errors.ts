import { ConfigError } from '../config/errors.js';

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
