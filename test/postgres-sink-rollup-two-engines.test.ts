/**
 * PostgreSQL sink, `rollup=1s`: two engines at once (separate inputs that
 * overlap, separate offsets) writing the same orders to one table. Each
 * order is a row once and counted once in the rollup, whichever engine
 * inserted it: the rollup equals the totals of the orders written (one
 * GROUP BY over the input) and those of the rows table. A reader sees the
 * two agree all along: while the test holds the engines at their rollup
 * upsert (a lock on the rollup table), and in a snapshot every few
 * milliseconds while they run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { diffTotals, perSymbol, rollupTotals, totalsOf, watchRollup } from './helpers/rollup.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const ORDERS = 12_000;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

async function runOnce(input: string, sink: string): Promise<void> {
  const engine = new Engine({ input, once: true, workers: 2, sink: sink as `postgres://${string}` });
  await engine.start();
  await engine.finished();
  await engine.stop();
}

describe('PostgreSQL sink: rollup with two engines on one table', () => {
  it('counts each order once, whichever engine inserted it', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const base = Date.parse('2026-12-03T21:00:00Z');
    // Three orders per millisecond: many rows per bucket, and ties on the last event time.
    const order = (i: number): string =>
      JSON.stringify({ id: `o${i}`, symbol: SYMBOLS[i % 3], side: 'buy', price: `${100 + ((i * 7919) % 1000) / 100}`, qty: `${(i % 17) + 0.5}`, timestamp: base + Math.floor(i / 3) });
    const all = Array.from({ length: ORDERS }, (_, i) => order(i));
    // A reads orders 0..8999, B 3000..11999 backwards: 6000 orders both write, at the same time.
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'a', 'orders.ndjson'), `${all.slice(0, 9000).join('\n')}\n`);
    writeFileSync(join(dir, 'b', 'orders.ndjson'), `${all.slice(3000).reverse().join('\n')}\n`);
    const url = (consumer: string): string => pg.server.url(`table=orders&columns=id,symbol,side,price:numeric,qty:numeric&rollup=1s&batch=200&consumer=${consumer}`);
    // The tables first, so the two engines race on rows, not on CREATE TABLE.
    await runOnce(join(dir, 'none-*.ndjson'), url('setup'));
    const drifts = await watchRollup(pg.server, () => Promise.all([runOnce(join(dir, 'a', '*.ndjson'), url('a')), runOnce(join(dir, 'b', '*.ndjson'), url('b'))]));
    expect(drifts.slice(0, 2)).toEqual([]);

    const n = (await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM orders'))[0]!.n;
    expect(Number(n)).toBe(ORDERS);
    await pg.server.query('CREATE TABLE reference (r jsonb)');
    await pg.server.query('INSERT INTO reference SELECT unnest($1::jsonb[])', [all]);
    const want = await totalsOf(
      pg.server,
      `SELECT r->>'symbol' AS symbol, timestamptz 'epoch' + (r->>'timestamp')::float8 * interval '1 millisecond' AS event_time,
              (r->>'price')::numeric AS price, (r->>'qty')::numeric AS qty FROM reference`,
      1000,
    );
    const got = await rollupTotals(pg.server, 'orders');
    expect(diffTotals(want, got)).toEqual([]);
    expect(got.size).toBe(want.size);
    const { rollup, rows } = await perSymbol(pg.server);
    expect(rollup).toEqual(rows);
  }, 120_000);
});
