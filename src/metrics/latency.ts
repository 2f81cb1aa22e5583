import type { Histogram } from 'hdr-histogram-js';
import { createLazyLatencyHistogram, destroyLatencyHistogram } from './histograms.js';
import { summarizeMicros, type LatencySummary } from './percentiles.js';

export type { LatencySummary } from './percentiles.js';

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

  record(micros: number, count: number): void {
    if (count <= 0) return;
    this.histogram.recordValueWithCount(Math.max(1, Math.round(micros)), count);
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
