/*
 * The sink's metrics: plain numbers on the write path, read by prom-client
 * only at scrape time (as the engine's are; metrics-export.ts), and commit
 * latency in an HDR histogram.
 */
import type { Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram } from '../../metrics/histograms.js';

export interface PostgresSinkStats {
  rowsWritten: number;
  batches: number;
  /** Batches written through the staging table instead of copied straight into the table. */
  stagedBatches: number;
  conflicts: number;
  rejected: number;
  reconnects: number;
  /** Commit latency (one transaction: COPY, INSERT, offsets, COMMIT), microseconds. */
  commitP50Micros: number;
  commitP99Micros: number;
}

export class PostgresSinkMetrics {
  rowsWritten = 0;
  batches = 0;
  stagedBatches = 0;
  conflicts = 0;
  rejected = 0;
  /** Read from the connection when asked. */
  reconnects: () => number = () => 0;
  /** Plain JS: a WebAssembly histogram would have to be freed by hand. */
  readonly commitMicros: Histogram = createLatencyHistogram(false);

  stats(): PostgresSinkStats {
    return {
      rowsWritten: this.rowsWritten,
      batches: this.batches,
      stagedBatches: this.stagedBatches,
      conflicts: this.conflicts,
      rejected: this.rejected,
      reconnects: this.reconnects(),
      commitP50Micros: this.commitMicros.totalCount > 0 ? this.commitMicros.getValueAtPercentile(50) : 0,
      commitP99Micros: this.commitMicros.totalCount > 0 ? this.commitMicros.getValueAtPercentile(99) : 0,
    };
  }
}

