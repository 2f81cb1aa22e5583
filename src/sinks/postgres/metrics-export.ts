/*
 * The sink's metrics in the engine's prom-client registry (loaded only when a
 * metrics server runs). Commit latency is a summary whose quantiles come from
 * the HDR histogram (HdrSummary), as the engine's latencies are.
 */
import type { Registry } from 'prom-client';
import { HdrSummary } from '../../metrics/prometheus.js';
import { ScrapedMetrics } from '../../metrics/scraped.js';
import type { PostgresSinkMetrics } from './metrics.js';

/** Once per registry. */
export function registerPostgresMetrics(registry: Registry, m: PostgresSinkMetrics): void {
  if (registry.getSingleMetric('ordertail_postgres_rows_written_total')) return;
  const metrics = new ScrapedMetrics(registry);
  metrics.counter('ordertail_postgres_rows_written_total', 'Rows inserted into the PostgreSQL table (committed).', () => m.rowsWritten);
  metrics.counter('ordertail_postgres_batches_total', 'Transactions committed (rows and input offsets together).', () => m.batches);
  metrics.counter(
    'ordertail_postgres_batches_staged_total',
    'Batches written through the staging table (INSERT … ON CONFLICT) instead of copied straight into the table: a copy already in the table, a row the database refused, a value left to the database to convert, or rollup=.',
    () => m.stagedBatches,
  );
  metrics.counter('ordertail_postgres_conflicts_total', 'Rows not inserted because the table already held their dedup key and event time.', () => m.conflicts);
  metrics.counter('ordertail_postgres_rows_rejected_total', 'Rows the database refused (dead-lettered with its message).', () => m.rejected);
  metrics.counter('ordertail_postgres_reconnects_total', 'Connections made again after the database went away.', () => m.reconnects());
  new HdrSummary(
    { name: 'ordertail_postgres_commit_latency_seconds', help: 'One commit of rows and offsets (COPY into the table, or into the staging table and INSERT … ON CONFLICT; offsets; COMMIT).', registry },
    () => [['', m.commitMicros]],
  );
}
