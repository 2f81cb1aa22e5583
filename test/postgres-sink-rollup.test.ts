/**
 * PostgreSQL sink, `rollup=1s`: a replay of order logs with copies across
 * files (and within them) leaves in orders_rollup, per symbol and 1 s
 * bucket, exactly the totals of the orders as written (each counted once),
 * computed here by one GROUP BY over the input; a second engine reading
 * the same logs under another consumer (every row a conflict) changes
 * nothing. Batches of 500 over two connections: many overlapping commits
 * touch the same buckets. A reader sees the rollup agree with the rows
 * table all along (helpers/rollup.ts, watchRollup). A batch split around a
 * row the database refuses counts the rest, and not that row.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { writeOrderLogs } from './helpers/order-logs.js';
import { diffTotals, rollupTotals, totalsOf, watchRollup } from './helpers/rollup.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const COLUMNS = 'columns=id,symbol,side,price:numeric,qty=amount:numeric';

async function runOnce(input: string, params: string): Promise<void> {
  const engine = new Engine({ input, once: true, workers: 2, sink: pg.server.url(params) as `postgres://${string}` });
  await engine.start();
  await engine.finished();
  await engine.stop();
}

describe('PostgreSQL sink: rollup', () => {
  it('holds the totals of the orders written, each once, per symbol and bucket', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const logs = writeOrderLogs(dir, { seed: 22, files: 3, ordersPerFile: 4000, duplicateShare: 0.25, windowMs: 5000, spanMs: 20_000 });
    expect(logs.duplicatesWritten).toBeGreaterThan(2000);
    const sink = `table=orders&${COLUMNS}&rollup=1s&batch=500`;
    // The tables first (no input), so a reader can watch the replay from its first commit.
    await runOnce(`${dir}/none-*.ndjson`, `${sink}&consumer=setup`);
    expect(await watchRollup(pg.server, () => runOnce(`${dir}/*.ndjson`, sink))).toEqual([]);

    // The reference: the orders as written, each once, loaded as they are and summed by one GROUP BY.
    await pg.server.query('CREATE TABLE reference (r jsonb)');
    await pg.server.query('INSERT INTO reference SELECT unnest($1::jsonb[])', [logs.expected]);
    const want = await totalsOf(
      pg.server,
      `SELECT r->>'symbol' AS symbol, timestamptz 'epoch' + (r->>'timestamp')::float8 * interval '1 millisecond' AS event_time,
              (r->>'price')::numeric AS price, (r->>'amount')::numeric AS qty FROM reference`,
      1000,
    );
    expect(want.size).toBeGreaterThanOrEqual(80);
    const got = await rollupTotals(pg.server, 'orders');
    expect(diffTotals(want, got)).toEqual([]);
    expect(got.size).toBe(want.size);

    // Every row already there: the rollup must not move.
    await runOnce(`${dir}/*.ndjson`, `table=orders&${COLUMNS}&rollup=1s&batch=500&consumer=replay`);
    expect(diffTotals(want, await rollupTotals(pg.server, 'orders'))).toEqual([]);
    const n = (await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM orders'))[0]!.n;
    expect(Number(n)).toBe(logs.expected.length);
  }, 120_000);

  it('leaves out a row the database refuses, with the rest of its batch counted', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const base = Date.parse('2026-12-03T22:00:00Z');
    // Row 250 has a price numeric cannot read: its batch is split around it (savepoints), the rest lands.
    const lines = Array.from({ length: 500 }, (_, i) =>
      JSON.stringify({ id: `b${i}`, symbol: i % 2 ? 'BTCUSDT' : 'ETHUSDT', side: 'buy', price: i === 250 ? 'n/a' : `${100 + i}`, amount: '2', timestamp: base + i * 7 }),
    );
    writeFileSync(join(dir, 'orders.ndjson'), `${lines.join('\n')}\n`);
    await runOnce(join(dir, '*.ndjson'), `table=split&${COLUMNS}&rollup=1s`);
    const n = (await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM split'))[0]!.n;
    expect(Number(n)).toBe(499);
    expect(diffTotals(await totalsOf(pg.server, 'SELECT symbol, event_time, price, qty FROM split', 1000), await rollupTotals(pg.server, 'split'))).toEqual([]);
    const records = (await pg.server.query<{ records: string }>('SELECT sum(records) AS records FROM split_rollup'))[0]!.records;
    expect(Number(records)).toBe(499);
  });
});
