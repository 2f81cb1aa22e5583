/** Named failures of the dedup table (stable `code`, as undici's errors do). */
import { OrdertailError } from '../errors.js';

/**
 * A bucket (or the watermark) stayed write-locked for stallLimitMs: the thread
 * holding it was descheduled for that long, or died mid-write.
 */
export class DedupStalledError extends OrdertailError {
  readonly code = 'ORDERTAIL_DEDUP_STALLED' as const;
  /** Bucket index, or -1 for the watermark seqlock. */
  readonly bucket: number;
  readonly waitedMs: number;

  constructor(bucket: number, waitedMs: number) {
    super(
      `dedup ${bucket < 0 ? 'watermark' : `bucket ${bucket}`} stayed write-locked for ` +
        `${Math.round(waitedMs)} ms (a writer thread stalled or died mid-write)`,
    );
    this.name = 'DedupStalledError';
    this.bucket = bucket;
    this.waitedMs = waitedMs;
  }
}
