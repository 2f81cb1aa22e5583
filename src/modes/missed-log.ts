/*
 * The warning for records only the batch path saw (the live path missed
 * them): a sample file + offset, at most one line per interval, with how many
 * went unlogged since, so a file the live path never read does not flood the log.
 */
import type { MissedRecord } from './comparison.js';

export class MissedLog {
  private lastAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly warn: (message: string) => void,
    private readonly intervalMs = 10_000,
  ) {}

  missed(record: MissedRecord, nowMs = Date.now()): void {
    if (nowMs - this.lastAt < this.intervalMs) {
      this.unlogged++;
      return;
    }
    const more = this.unlogged > 0 ? ` (${this.unlogged} more since the last such line)` : '';
    this.unlogged = 0;
    this.lastAt = nowMs;
    this.warn(`hybrid: the batch path emitted a record the live path missed: ${record.file} at offset ${record.offset}${more}`);
  }
}
