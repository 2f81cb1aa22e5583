/**
 * PostgreSQL sink: the server stopped mid-run and started again. The engine
 * holds what it read (commits wait and reconnect with backoff), /readyz says
 * not ready with the reason while the database is away, and once it is back
 * every record is in the table exactly once, the reconnect counted.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const base = Date.parse('2026-12-03T13:00:00Z');
const orders = (from: number, to: number): string => Array.from({ length: to - from }, (_, k) => JSON.stringify({ id: `o${from + k}`, symbol: 'SOLUSDT', side: 'sell', timestamp: base + from + k })).join('\n') + '\n';

async function readyz(engine: Engine): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> {
  const res = await fetch(`${engine.metricsUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
}

describe('PostgreSQL sink: the database goes away', () => {
  it('loses nothing while the server is down, is not ready meanwhile, and catches up when it is back', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const log = join(dir, 'orders.ndjson');
    writeFileSync(log, orders(0, 1000));
    const warnings: string[] = [];
    const engine = new Engine({ input: log, workers: 2, metricsPort: 0, checkpoint: join(dir, 'state'), sink: pg.server.url() as `postgres://${string}` });
    engine.on('warning', (m, code) => warnings.push(`${code} ${m}`));
    engine.on('error', () => {});
    await engine.start();
    try {
      for (let n = 0; n < 1000; ) n = await pg.server.rowCount().catch(() => 0);
      expect((await readyz(engine)).status).toBe(200);

      pg.server.stop();
      appendFileSync(log, orders(1000, 2000));
      // Not ready once the sink has found the database gone (a commit or the idle connection).
      let ready = await readyz(engine);
      while (ready.status === 200) ready = await readyz(engine);
      expect(ready.body.ready).toBe(false);
      expect(ready.body.reasons.join(' ')).toMatch(/postgres:public\.orders: database unreachable/);
      appendFileSync(log, orders(2000, 3000));
      expect(warnings.some((w) => w.startsWith('ORDERTAIL_SINK_UNAVAILABLE'))).toBe(true);
      expect((await readyz(engine)).status).toBe(503);

      pg.server.start();
      for (let n = 0; n < 3000; ) n = await pg.server.rowCount();
      while ((await readyz(engine)).status !== 200);
      const metrics = await (await fetch(`${engine.metricsUrl}/metrics`)).text();
      expect(Number(/^ordertail_postgres_reconnects_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      await engine.stop();
    }
    const rows = await pg.server.query<{ n: string; ids: string; lo: string; hi: string }>("SELECT count(*) AS n, count(DISTINCT id) AS ids, min(substr(id, 2)::int) AS lo, max(substr(id, 2)::int) AS hi FROM orders");
    expect(rows[0]).toEqual({ n: '3000', ids: '3000', lo: 0, hi: 2999 });
  });
});
