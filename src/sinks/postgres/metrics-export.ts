/*
 * The sink's metrics in the engine's prom-client registry (loaded only when a
 * metrics server runs). Commit latency is a summary whose quantiles come from
 * the HDR histogram, as the engine's latencies are.
 */
import { Counter, Summary, type Registry } from 'prom-client';
import type { Histogram } from 'hdr-histogram-js';
import type { PostgresSinkMetrics } from './metrics.js';

const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

/** Once per registry. */
export function registerPostgresMetrics(registry: Registry, m: PostgresSinkMetrics): void {
  if (registry.getSingleMetric('ordertail_postgres_rows_written_total')) return;
  const registers = [registry];
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter('ordertail_postgres_rows_written_total', 'Rows inserted into the PostgreSQL table (committed).', () => m.rowsWritten);
  counter('ordertail_postgres_batches_total', 'Transactions committed (rows and input offsets together).', () => m.batches);
  counter('ordertail_postgres_conflicts_total', 'Rows not inserted because the table already held their dedup key and event time.', () => m.conflicts);
  counter('ordertail_postgres_rows_rejected_total', 'Rows the database refused (dead-lettered with its message).', () => m.rejected);
  counter('ordertail_postgres_reconnects_total', 'Connections made again after the database went away.', () => m.reconnects());
  registry.registerMetric(new CommitLatency(m.commitMicros));
}

/** Commit latency as a summary whose quantiles come from the HDR histogram. */
class CommitLatency extends Summary<string> {
  constructor(private readonly histogram: Histogram) {
    super({ name: 'ordertail_postgres_commit_latency_seconds', help: 'One commit of rows and offsets (COPY, INSERT … ON CONFLICT, offsets, COMMIT).', registers: [] });
  }

  override async get(): ReturnType<Summary<string>['get']> {
    const base = await super.get();
    const h = this.histogram;
    const count = h.totalCount;
    const values: typeof base.values = [];
    if (count > 0) for (const q of QUANTILES) values.push({ labels: { quantile: q }, value: h.getValueAtPercentile(q * 100) / 1e6 });
    values.push({ metricName: `${base.name}_sum`, labels: {}, value: count > 0 ? (h.mean * count) / 1e6 : 0 });
    values.push({ metricName: `${base.name}_count`, labels: {}, value: count });
    return { ...base, values };
  }
}
