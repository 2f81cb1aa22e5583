/*
 * The broadcaster's Prometheus metrics, read from its latest counts at scrape
 * time (as the engine's are: nothing per frame touches prom-client).
 */
import type { Registry } from 'prom-client';
import { HdrSummary } from '../metrics/prometheus.js';
import { ScrapedMetrics, type Rows } from '../metrics/scraped.js';
import type { Broadcaster } from './broadcaster.js';
import type { BroadcastStats } from './stats.js';

const labelled = <K extends string>(label: string, counts: Record<K, number>): Rows => Object.entries<number>(counts).map(([k, v]) => [{ [label]: k }, v]);

/** Registers the metrics; the returned function removes them again. */
export function registerBroadcastMetrics(registry: Registry, broadcaster: Broadcaster): () => void {
  const metrics = new ScrapedMetrics(registry);
  const counter = (name: string, help: string, labelNames: string[], read: (s: BroadcastStats) => Rows): void =>
    metrics.labelledCounter(name, help, labelNames, () => read(broadcaster.stats()));
  const gauge = (name: string, help: string, read: (s: BroadcastStats) => number): void => metrics.gauge(name, help, () => read(broadcaster.stats()));
  const one = (read: (s: BroadcastStats) => number) => (s: BroadcastStats): Rows => [[{}, read(s)]];

  gauge('ordertail_ws_clients', 'WebSocket clients connected.', (s) => s.clients);
  gauge('ordertail_ws_subscriptions', 'Connected WebSocket clients with a filter (symbols, types or fields).', (s) => s.subscriptions);
  gauge('ordertail_ws_replay_records', 'Records held for clients that resume.', (s) => s.replay.records);
  gauge('ordertail_ws_replay_bytes', 'Bytes of records held for clients that resume.', (s) => s.replay.bytes);
  counter('ordertail_ws_subscribe_requests_total', 'Subscriptions taken (in the connection URL or a subscribe message).', [], one((s) => s.subscribeRequests));
  counter('ordertail_ws_records_in_total', 'Records handed to the broadcaster.', [], one((s) => s.recordsIn));
  counter('ordertail_ws_records_sent_total', 'Records sent to clients, summed over clients.', [], one((s) => s.recordsSent));
  counter('ordertail_ws_frames_sent_total', 'WebSocket frames sent.', [], one((s) => s.framesSent));
  counter('ordertail_ws_bytes_sent_total', 'Payload bytes of the frames sent.', [], one((s) => s.bytesSent));
  counter(
    'ordertail_ws_dropped_records_total',
    'Records not delivered: drop-oldest (a slow client queue overflowed), disconnect (queued for a client closed for being slow), overload (the broadcaster thread was behind).',
    ['policy'],
    (s) => labelled('policy', s.dropped),
  );
  counter('ordertail_ws_disconnects_total', 'Client connections ended, by reason.', ['reason'], (s) => labelled('reason', s.disconnects));
  counter('ordertail_ws_refused_total', 'Connections refused at the handshake, by reason.', ['reason'], (s) => labelled('reason', s.refused));
  counter('ordertail_ws_bad_messages_total', 'Client messages refused (error frame sent), by reason.', ['reason'], (s) => labelled('reason', s.badMessages));
  counter('ordertail_ws_resumes_total', 'Resumes: replayed in full, or with a gap notice.', ['outcome'], (s) => labelled('outcome', s.resumes));
  metrics.names.push('ordertail_ws_fanout_latency_seconds');
  new HdrSummary(
    { name: 'ordertail_ws_fanout_latency_seconds', help: 'Emit (sink batch) to the frame handed to the client socket, per record, since start (HDR histogram).', labelName: 'endpoint', registry },
    () => [['ws', broadcaster.latency]],
  );
  return () => metrics.unregister();
}
