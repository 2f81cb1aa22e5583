import type { Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram } from './histograms.js';

/** Percentiles reported everywhere latency is shown, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Latency in microseconds, observed-growth → emitted. Recorded once per range
 * with the range's record count as weight, so a million records cost one call.
 */
export class LatencyRecorder {
  static summarize(h: Histogram): LatencySummary {
    const ms = (v: number): number => Math.round(v) / 1000;
    return {
      count: h.totalCount,
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
    };
  }

  readonly histogram: Histogram = createLatencyHistogram();

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
}
