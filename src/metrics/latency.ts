import type { Histogram } from 'hdr-histogram-js';
import { createLazyLatencyHistogram, destroyLatencyHistogram } from './histograms.js';
import { summarizeMicros, type LatencySummary } from './percentiles.js';

export type { LatencySummary } from './percentiles.js';

/** Ranges (or slices) kept per interval for takeInterval(): far more than a second brings. */
const MAX_INTERVAL_PAIRS = 131_072;

/**
 * Latency in microseconds, observed-growth → emitted. Recorded once per range
 * with the range's record count as weight, so a million records cost one call.
 */
export class LatencyRecorder {
  static summarize(h: Histogram): LatencySummary {
    return summarizeMicros(h);
  }

  // Lazy: hdr-histogram-js is loaded when this is first read (or fills up), not at start-up.
  readonly histogram: Histogram = createLazyLatencyHistogram();

  /** (value, count) pairs since the last takeInterval(), once keepInterval() was called. */
  private interval: number[] | undefined;

  record(micros: number, count: number): void {
    if (count <= 0) return;
    const value = Math.max(1, Math.round(micros));
    this.histogram.recordValueWithCount(value, count);
    // One pair per range (or slice of one), never per record; beyond the cap, a sample.
    if (this.interval && this.interval.length < MAX_INTERVAL_PAIRS * 2) this.interval.push(value, count);
  }

  /**
   * Keep what is recorded until takeInterval() (a metrics sampler does): the
   * latency of one interval then comes from these few pairs, not from walking
   * (and, for a WebAssembly histogram, decoding) the whole histogram each time.
   */
  keepInterval(): void {
    this.interval ??= [];
  }

  /** The (value, count) pairs recorded since the previous call (the first MAX_INTERVAL_PAIRS of them). */
  takeInterval(): readonly number[] | undefined {
    const pairs = this.interval;
    if (pairs) this.interval = [];
    return pairs;
  }

  summary(): LatencySummary {
    return LatencyRecorder.summarize(this.histogram);
  }

  reset(): void {
    this.histogram.reset();
  }

  destroy(): void {
    destroyLatencyHistogram(this.histogram);
  }
}
