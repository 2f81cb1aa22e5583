/**
 * PostgreSQL sink: two engines (separate inputs, separate offsets) writing the
 * same orders to one table: every order once, the second engine's copies
 * counted as conflicts (ordertail_postgres_conflicts_total), none a new row;
 * the first engine's batches copied straight into the table, the second's
 * (holding copies) through the staging table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

/** A --once run; its metrics once the sink has committed every record it read (`records` of them). */
async function runOnce(input: string, sink: string, records: number): Promise<string> {
  const engine = new Engine({ input, once: true, workers: 2, metricsPort: 0, sink: sink as `postgres://${string}` });
  await engine.start();
  await engine.finished();
  let text = '';
  const scrape = async (): Promise<boolean> => {
    text = await (await fetch(`${engine.metricsUrl}/metrics`)).text();
    return metric(text, 'ordertail_postgres_rows_written_total') + metric(text, 'ordertail_postgres_conflicts_total') >= records;
  };
  // finished() means emitted; the commit follows at the sink's next commit point.
  while (!(await scrape())) await new Promise((r) => setTimeout(r, 20));
  await engine.stop();
  return text;
}

describe('PostgreSQL sink: two engines, one table', () => {
  it('writes each order once; the second engine counts its copies as conflicts', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const base = Date.parse('2026-12-03T11:00:00Z');
    const order = (i: number): string => JSON.stringify({ id: `o${i}`, symbol: 'BTCUSDT', side: 'buy', timestamp: base + i * 10 });
    // Engine A reads orders 0..2999, engine B 2000..3999 (B's log in another order and layout).
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'a', 'orders.ndjson'), `${Array.from({ length: 3000 }, (_, i) => order(i)).join('\n')}\n`);
    writeFileSync(join(dir, 'b', 'orders.ndjson'), `${Array.from({ length: 2000 }, (_, i) => order(3999 - i)).join('\n')}\n`);
    const url = pg.server.url('table=orders');
    const a = await runOnce(join(dir, 'a', '*.ndjson'), url, 3000);
    expect(metric(a, 'ordertail_postgres_rows_written_total')).toBe(3000);
    expect(metric(a, 'ordertail_postgres_conflicts_total')).toBe(0);
    expect(metric(a, 'ordertail_postgres_batches_total')).toBeGreaterThanOrEqual(1);
    expect(metric(a, 'ordertail_postgres_commit_latency_seconds_count')).toBe(metric(a, 'ordertail_postgres_batches_total'));
    // Nothing in the table yet: every batch copied straight in.
    expect(metric(a, 'ordertail_postgres_batches_staged_total')).toBe(0);
    const b = await runOnce(join(dir, 'b', '*.ndjson'), url, 2000);
    expect(metric(b, 'ordertail_postgres_rows_written_total')).toBe(1000);
    expect(metric(b, 'ordertail_postgres_conflicts_total')).toBe(1000);
    // Its copies sent its batches through the staging table's ON CONFLICT.
    expect(metric(b, 'ordertail_postgres_batches_staged_total')).toBeGreaterThanOrEqual(1);
    const rows = await pg.server.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM orders');
    expect(rows[0]).toEqual({ n: '4000', ids: '4000' });
    // Each engine resumes from its own offsets row.
    expect((await pg.server.query('SELECT consumer FROM ordertail_offsets')).length).toBe(2);
  });
});
