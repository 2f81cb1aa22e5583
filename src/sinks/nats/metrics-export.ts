/*
 * The sink's metrics in the engine's prom-client registry (loaded only when a
 * metrics server runs), named like the PostgreSQL sink's.
 */
import type { Registry } from 'prom-client';
import { HdrSummary } from '../../metrics/prometheus.js';
import { ScrapedMetrics } from '../../metrics/scraped.js';
import type { NatsSinkMetrics } from './metrics.js';

/** Once per registry. */
export function registerNatsMetrics(registry: Registry, m: NatsSinkMetrics): void {
  if (registry.getSingleMetric('ordertail_nats_published_total')) return;
  const metrics = new ScrapedMetrics(registry);
  metrics.counter('ordertail_nats_published_total', 'Records published to JetStream (first sends).', () => m.published);
  metrics.counter('ordertail_nats_acked_total', 'Publishes the stream acknowledged (stored or recognised as duplicates).', () => m.acked);
  metrics.counter('ordertail_nats_duplicates_total', 'Acks reporting the Msg-Id was already in the duplicate window (PubAck.duplicate).', () => m.duplicates);
  metrics.counter('ordertail_nats_retries_total', 'Records sent again with the same Msg-Id after no ack (timeout, reconnect, JetStream error).', () => m.retries);
  metrics.counter('ordertail_nats_window_full_total', 'Times the window of un-acked records filled and reading paused.', () => m.windowFull);
  metrics.counter('ordertail_nats_too_large_total', 'Records larger than the server takes (dead-lettered).', () => m.tooLarge);
  metrics.counter('ordertail_nats_reconnects_total', 'Connections made again after the server went away.', () => m.reconnects());
  metrics.gauge('ordertail_nats_in_flight', 'Records published and not yet acked.', () => m.inFlight());
  new HdrSummary({ name: 'ordertail_nats_publish_latency_seconds', help: 'First publish of a record to its ack by the stream.', registry }, () => [['', m.ackMicros]]);
}
