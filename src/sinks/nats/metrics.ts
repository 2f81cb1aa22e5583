/*
 * The sink's metrics: plain numbers on the publish path, read by prom-client
 * only at scrape time (metrics-export.ts), and publish→ack latency in an HDR
 * histogram, as the PostgreSQL sink's commit latency is.
 */
import type { Histogram } from 'hdr-histogram-js';
import { createLatencyHistogram } from '../../metrics/histograms.js';

export interface NatsSinkStats {
  /** Records handed to the connection (first sends; retries not counted). */
  published: number;
  /** Records the stream acknowledged (stored, or dropped as a duplicate). */
  acked: number;
  /** Acks that said the stream already held the Msg-Id (another engine, or a retry, published it). */
  duplicates: number;
  /** Sends again of a record whose ack did not come (timeout, reconnect, a JetStream error). */
  retries: number;
  /** Published, not yet acked. */
  inFlight: number;
  /** Times the window filled while the server was away or slow (reading paused). */
  windowFull: number;
  /** Records too large for the server, dead-lettered. */
  tooLarge: number;
  reconnects: number;
  /** First send → ack, microseconds. */
  ackP50Micros: number;
  ackP99Micros: number;
}

export class NatsSinkMetrics {
  published = 0;
  acked = 0;
  duplicates = 0;
  retries = 0;
  windowFull = 0;
  tooLarge = 0;
  /** Read from their owners when asked. */
  inFlight: () => number = () => 0;
  reconnects: () => number = () => 0;
  /** Plain JS: a WebAssembly histogram would have to be freed by hand. */
  readonly ackMicros: Histogram = createLatencyHistogram(false);

  stats(): NatsSinkStats {
    const h = this.ackMicros;
    return {
      published: this.published,
      acked: this.acked,
      duplicates: this.duplicates,
      retries: this.retries,
      inFlight: this.inFlight(),
      windowFull: this.windowFull,
      tooLarge: this.tooLarge,
      reconnects: this.reconnects(),
      ackP50Micros: h.totalCount > 0 ? h.getValueAtPercentile(50) : 0,
      ackP99Micros: h.totalCount > 0 ? h.getValueAtPercentile(99) : 0,
    };
  }
}
