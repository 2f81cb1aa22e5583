/**
 * PostgreSQL sink, `rollup=1s`: the server stopped mid-run (commits under
 * way cut off, some perhaps after their COMMIT reached the server) and
 * started again. Once the engine has caught up, every order is a row once
 * and counted once: the rollup equals the rows table, and its total the
 * orders written.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { perSymbol, rollupDrift } from './helpers/rollup.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const base = Date.parse('2026-12-03T13:00:00Z');
const SYMBOLS = ['SOLUSDT', 'BTCUSDT', 'ETHUSDT'];
const orders = (from: number, to: number): string =>
  Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return JSON.stringify({ id: `o${i}`, symbol: SYMBOLS[i % 3], side: 'sell', price: `${100 + (i % 89) / 10}`, qty: `${(i % 7) + 1}`, timestamp: base + i });
  }).join('\n') + '\n';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL sink: rollup while the database goes away', () => {
  it('counts every order once after an outage in the middle of a stream of commits', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const log = join(dir, 'orders.ndjson');
    writeFileSync(log, orders(0, 1000));
    const engine = new Engine({ input: log, workers: 2, checkpoint: join(dir, 'state'), sink: pg.server.url('table=orders&columns=id,symbol,side,price:numeric,qty:numeric&rollup=1s&batch=100') as `postgres://${string}` });
    engine.on('warning', () => {});
    engine.on('error', () => {});
    await engine.start();
    let written = 1000;
    try {
      for (let n = 0; n < 1000; ) n = await pg.server.rowCount().catch(() => 0);
      // Commits under way when the server goes: orders keep coming in small appends.
      const appending = (async () => {
        for (let k = 0; k < 40; k++, written += 50) {
          appendFileSync(log, orders(written, written + 50));
          await sleep(10);
        }
      })();
      await sleep(150);
      pg.server.stop();
      await appending;
      await sleep(500);
      pg.server.start();
      for (let n = 0; n < written; ) n = await pg.server.rowCount().catch(() => 0);
    } finally {
      await engine.stop();
    }
    expect(await pg.server.rowCount()).toBe(written);
    expect(await rollupDrift(pg.server)).toEqual([]);
    const { rollup, rows } = await perSymbol(pg.server);
    expect(rollup).toEqual(rows);
    expect(Number((await pg.server.query<{ n: string }>('SELECT sum(records) AS n FROM orders_rollup'))[0]!.n)).toBe(written);
  }, 60_000);
});
