/**
 * PostgreSQL sink, exactly once across kill -9: a writer appends orders (with
 * repeated ids and lines split across writes) while the CLI is SIGKILLed at
 * 10 random moments and restarted; once the local checkpoint directory is
 * deleted while it is down (the database's offsets are the truth). A final
 * --once run catches up; every order must then be in the table exactly once
 * (the first line of each id), and a second --once run must add nothing.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedRecords, killAll, mulberry32, runEngine, spawnEngine, startWriter } from './helpers/crash-harness.mjs';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();
afterEach(() => killAll());

const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const KILLS = 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL sink: exactly once across kill -9', () => {
  it(`${KILLS} random SIGKILLs while a writer appends: every order once in the table (seed ${seed})`, async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir('ordertail-pgcrash-');
    const log = join(dir, 'orders.log');
    const checkpoint = join(dir, 'checkpoint');
    const args = ['run', '--input', log, '--sink', pg.server.url('table=orders&columns=id,sym,side'), '--checkpoint', checkpoint, '--checkpoint-interval', '100ms', '--no-metrics', '--workers', '2', '--log-level', 'warn'];
    const rand = mulberry32(seed);
    const writer = await startWriter({ streams: [{ name: 's0', path: log }], rate: 3000, seed });
    const notes: string[] = [];
    try {
      for (let i = 0; i < KILLS; i++) {
        const before = await pg.server.rowCount().catch(() => 0);
        const e = spawnEngine(args);
        const t0 = Date.now();
        if (i % 2 === 1) {
          // Mid-stream: once this engine has committed rows of its own.
          while ((await pg.server.rowCount().catch(() => 0)) === before && Date.now() - t0 < 20_000) await sleep(10);
        }
        await Promise.race([e.exited, sleep(Math.round(i % 2 === 1 ? rand() * 500 : 200 + rand() * 1300))]);
        e.child.kill('SIGKILL');
        const { signal } = await e.exited;
        expect(signal, `cycle ${i + 1} ended by itself:\n${e.stderr()}`).toBe('SIGKILL');
        notes.push(`kill ${i + 1} after ${Date.now() - t0} ms: ${await pg.server.rowCount().catch(() => -1)} rows`);
        if (i === 4) rmSync(checkpoint, { recursive: true, force: true });
      }
    } finally {
      await writer.stop();
    }
    const final = await runEngine([...args, '--once']);
    const why = `seed ${seed}\n${notes.join('\n')}\n${final.stderr}`;
    expect(final.code, why).toBe(0);
    const { expected, repeats } = expectedRecords([[log]], { keyed: true });
    expect(repeats, why).toBeGreaterThan(50);
    const rows = await pg.server.query<{ k: string; n: string }>(`SELECT (record->>'stream') || ':' || (record->>'seq') AS k, count(*) AS n FROM orders GROUP BY 1`);
    const got = new Map(rows.map((r) => [r.k, Number(r.n)]));
    const duplicated = [...got].filter(([, n]) => n > 1).map(([k]) => k);
    const unexpected = [...got.keys()].filter((k) => !expected.has(k));
    const missing = [...expected.keys()].filter((k) => !got.has(k));
    expect({ missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5), unexpected: unexpected.slice(0, 5) }, why).toEqual({ missing: [], duplicated: [], unexpected: [] });
    expect(got.size, why).toBe(expected.size);
    const again = await runEngine([...args, '--once']);
    expect(again.code, why).toBe(0);
    expect(await pg.server.rowCount(), why).toBe(expected.size);
  }, 180_000);
});
