/**
 * PostgreSQL sink: SIGTERM while the database is away. The final commit
 * cannot land; stop() waits a bounded time (SINK_STOP_GRACE_MS), then the
 * CLI logs one error saying how many records it abandoned and why, and exits
 * 1 well inside its own 5 s shutdown deadline. The abandoned records are
 * read again by the next run (the offsets are the database's): with the
 * server back, every order is in the table once.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SINK_STOP_GRACE_MS } from '../dist/src/engine/sink-stop.js';
import { runCli, startCli } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const base = Date.parse('2026-12-03T18:30:00Z');
const orders = (from: number, to: number): string => Array.from({ length: to - from }, (_, k) => JSON.stringify({ id: `o${from + k}`, symbol: 'ETHUSDT', side: 'buy', timestamp: base + from + k })).join('\n') + '\n';

describe('PostgreSQL sink: stopped while the database is away', () => {
  it('SIGTERM during an outage: exits 1 within the bound naming what it abandoned; the next run writes every order once', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const log = join(dir, 'orders.ndjson');
    writeFileSync(log, orders(0, 1000));
    const args = ['run', '--input', log, '--sink', pg.server.url(), '--checkpoint', join(dir, 'state'), '--no-metrics', '--log-level', 'warn'];
    const cli = startCli(args);
    for (let n = 0; n < 1000; ) n = await pg.server.rowCount().catch(() => 0);

    pg.server.stop();
    appendFileSync(log, orders(1000, 2000));
    // The sink has found the database gone and holds the new records.
    await cli.waitFor(/database unavailable/, 'stderr', 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    const code = await cli.exit(15_000);
    const tookMs = Date.now() - t0;
    const stderr = cli.stderr();
    expect(code, stderr).toBe(1);
    expect(tookMs, stderr).toBeGreaterThanOrEqual(SINK_STOP_GRACE_MS - 100);
    expect(tookMs, stderr).toBeLessThan(SINK_STOP_GRACE_MS + 1500);
    expect(stderr).not.toMatch(/shutdown took longer/);
    const abandoned = stderr.split('\n').filter((l) => /not committed/.test(l));
    expect(abandoned.length, stderr).toBe(1);
    expect(abandoned[0]).toMatch(/stopped while database unreachable for \d+ s: .*: 1000 record\(s\) not committed .*offsets stay at generation \d+, so a restart reads them again/);

    pg.server.start();
    const again = await runCli([...args, '--once'], { timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    const rows = await pg.server.query<{ n: string; ids: string; lo: number; hi: number }>('SELECT count(*) AS n, count(DISTINCT id) AS ids, min(substr(id, 2)::int) AS lo, max(substr(id, 2)::int) AS hi FROM orders');
    expect(rows[0]).toEqual({ n: '2000', ids: '2000', lo: 0, hi: 1999 });
  }, 120_000);
});
