import type { Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram, mergeEncoded } from './histograms.js';

/** Encoded worker-side stage histograms, shipped inside a RangeOutcome now and then. */
export interface ShippedStageHistograms {
  parse: string;
  ringWait: string;
}

/**
 * Per-stage latency in microseconds: parse (one parser batch of ≤ 2048
 * records, in a worker), ringWait (a worker blocked on a full ring, per range),
 * dedup (emit stage: dedup + staging of one range, main thread), sinkWrite
 * (one sink batch). Workers record locally and ship; the main thread merges.
 */
export class StageHistograms {
  readonly parse: Histogram = createLatencyHistogram();
  readonly ringWait: Histogram = createLatencyHistogram();
  readonly dedup: Histogram = createLatencyHistogram();
  readonly sinkWrite: Histogram = createLatencyHistogram();

  merge(shipped: ShippedStageHistograms): void {
    mergeEncoded(this.parse, shipped.parse);
    mergeEncoded(this.ringWait, shipped.ringWait);
  }
}

/** Microseconds since `t0` (a performance.now() value), for recordValue. */
export function microsSince(t0: number): number {
  return Math.max(0, Math.round((performance.now() - t0) * 1000));
}
