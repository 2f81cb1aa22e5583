import type { Histogram } from 'hdr-histogram-js';
import { createLazyLatencyHistogram, destroyLatencyHistogram, mergeShipped, type ShippedHistogram } from './histograms.js';

/** Worker-side stage histograms (encoded, or a few raw values), shipped inside a RangeOutcome now and then. */
export interface ShippedStageHistograms {
  parse: ShippedHistogram;
  ringWait: ShippedHistogram;
}

/**
 * Per-stage latency in microseconds: parse (one parser batch of ≤ 2048
 * records, in a worker), ringWait (a worker blocked on a full ring, per range),
 * dedup (emit stage: dedup + staging of one range, main thread), sinkWrite
 * (one sink batch). Workers record locally and ship; the main thread merges.
 */
export class StageHistograms {
  // Lazy: hdr-histogram-js is loaded when these are first read (or fill up), not at start-up.
  readonly parse: Histogram = createLazyLatencyHistogram();
  readonly ringWait: Histogram = createLazyLatencyHistogram();
  readonly dedup: Histogram = createLazyLatencyHistogram();
  readonly sinkWrite: Histogram = createLazyLatencyHistogram();

  merge(shipped: ShippedStageHistograms): void {
    mergeShipped(this.parse, shipped.parse);
    mergeShipped(this.ringWait, shipped.ringWait);
  }

  /** All four, for what is done to each alike. */
  all(): Histogram[] {
    return [this.parse, this.ringWait, this.dedup, this.sinkWrite];
  }

  destroy(): void {
    for (const h of this.all()) destroyLatencyHistogram(h);
  }
}

/** Microseconds since `t0` (a performance.now() value), for recordValue. */
export function microsSince(t0: number): number {
  return Math.max(0, Math.round((performance.now() - t0) * 1000));
}
