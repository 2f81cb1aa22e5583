/**
 * PostgreSQL sink, `rollup=1s` across kill -9: a writer appends orders (with
 * repeated ids and lines split across writes) while the CLI is SIGKILLed at
 * random moments and restarted. After every kill, and after a final --once
 * run has caught up, the rollup holds exactly the totals of the rows table,
 * per symbol and bucket: a batch's totals commit with its rows or not at all.
 * Every other kill comes while the test holds a lock on the rollup table, so
 * the sink is stopped exactly at its rollup upsert: rows committed on their
 * own before it would show, to a reader then and after the kill. Last,
 * another consumer replays the whole log: every row a copy, none counted.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, mulberry32, runEngine, spawnEngine, startWriter } from './helpers/crash-harness.mjs';
import { holdRollup, perSymbol, rollupDrift } from './helpers/rollup.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();
afterEach(() => killAll());

const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const KILLS = 8;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL sink: rollup across kill -9', () => {
  it(`${KILLS} random SIGKILLs while a writer appends: the rollup always equals the rows table (seed ${seed})`, async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir('ordertail-pgrollup-crash-');
    const log = join(dir, 'orders.log');
    const sink = pg.server.url('table=orders&columns=id,symbol=sym,side,price=px:numeric,qty:numeric&rollup=1s&batch=300');
    const args = ['run', '--input', log, '--sink', sink, '--checkpoint', join(dir, 'checkpoint'), '--checkpoint-interval', '50ms', '--no-metrics', '--workers', '2', '--log-level', 'warn'];
    const rand = mulberry32(seed);
    const writer = await startWriter({ streams: [{ name: 's0', path: log }], rate: 4000, seed });
    const notes: string[] = [];
    try {
      for (let i = 0; i < KILLS; i++) {
        const before = await pg.server.rowCount().catch(() => 0);
        const e = spawnEngine(args);
        const t0 = Date.now();
        // Once this engine is committing: a kill then lands inside or between its transactions.
        while ((await pg.server.rowCount().catch(() => 0)) === before && Date.now() - t0 < 20_000) await sleep(5);
        await Promise.race([e.exited, sleep(Math.round(rand() * 400))]);
        const held = i % 2 === 1 ? await holdRollup(pg.server) : undefined;
        if (held) {
          while ((await held.waiters()) === 0 && Date.now() - t0 < 20_000) await sleep(5);
          expect(await held.waiters(), `cycle ${i + 1}: the sink never reached its rollup upsert`).toBeGreaterThan(0);
          expect(await rollupDrift(pg.server), `seed ${seed}, sink held at its rollup upsert in cycle ${i + 1}`).toEqual([]);
        }
        e.child.kill('SIGKILL');
        const { signal } = await e.exited;
        await held?.release();
        expect(signal, `cycle ${i + 1} ended by itself:\n${e.stderr()}`).toBe('SIGKILL');
        notes.push(`kill ${i + 1}${held ? ' (at the rollup upsert)' : ''} after ${Date.now() - t0} ms: ${await pg.server.rowCount()} rows`);
        // The killed engine's server sessions end once they find it gone.
        const killedAt = Date.now();
        const busySessions = async (): Promise<number> =>
          Number((await pg.server.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"))[0]!.n);
        while ((await busySessions()) > 0 && Date.now() - killedAt < 10_000) await sleep(10);
        expect(await rollupDrift(pg.server), `seed ${seed}, after kill ${i + 1}\n${notes.join('\n')}`).toEqual([]);
      }
    } finally {
      await writer.stop();
    }
    const final = await runEngine([...args, '--once']);
    const why = `seed ${seed}\n${notes.join('\n')}\n${final.stderr}`;
    expect(final.code, why).toBe(0);
    expect(await rollupDrift(pg.server), why).toEqual([]);
    const { rollup, rows } = await perSymbol(pg.server);
    expect(rows.size, why).toBeGreaterThan(3);
    expect(rollup, why).toEqual(rows);
    expect(Number((await pg.server.query<{ n: string }>('SELECT sum(records) AS n FROM orders_rollup'))[0]!.n), why).toBe(await pg.server.rowCount());
    // Another consumer reads it all again: every row a copy, the rollup must not move.
    const rows0 = await pg.server.rowCount();
    const replay = await runEngine(['run', '--input', log, '--sink', `${sink}&consumer=replay`, '--no-checkpoint', '--no-metrics', '--log-level', 'warn', '--once']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(await pg.server.rowCount()).toBe(rows0);
    expect(await rollupDrift(pg.server), `${why}\nafter a replay by another consumer`).toEqual([]);
  }, 180_000);
});
