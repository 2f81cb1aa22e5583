/**
 * PostgreSQL sink, a local checkpoint lost while the engine was down: the
 * database's recent keys stand in for its dedup table, and they must stay
 * known through every later restart, when the local checkpoint and the
 * database agree again and the table comes from the local checkpoint alone.
 */
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEngine } from './helpers/crash-harness.mjs';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

describe('PostgreSQL sink: keys seeded from the database outlive the next restart', () => {
  it('a repeat of an order written before the checkpoint was lost is dropped two restarts later', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir('ordertail-pgseed-');
    const log = join(dir, 'orders.ndjson');
    const checkpoint = join(dir, 'checkpoint');
    const base = Date.parse('2026-12-03T11:00:00Z');
    const order = (id: number, atMs: number): string => `${JSON.stringify({ id: `o${id}`, sym: 'BTCUSDT', side: 'buy', timestamp: atMs })}\n`;
    const args = ['run', '--input', log, '--sink', pg.server.url('table=orders&columns=id,sym,side'), '--checkpoint', checkpoint, '--no-metrics', '--workers', '2', '--log-level', 'warn', '--once'];
    const rows = async (): Promise<string[]> => (await pg.server.query<{ id: string }>('SELECT id FROM orders ORDER BY id')).map((r) => r.id);
    const run = async (): Promise<void> => {
      const r = await runEngine(args);
      expect(r.code, r.stderr).toBe(0);
    };

    writeFileSync(log, Array.from({ length: 100 }, (_, i) => order(i, base + i)).join(''));
    await run();
    expect((await rows()).length).toBe(100);

    // The checkpoint is lost: this run resumes from the database's offsets and seeds its keys.
    rmSync(checkpoint, { recursive: true, force: true });
    appendFileSync(log, order(100, base + 100));
    await run();
    expect((await rows()).length).toBe(101);

    // Local checkpoint and database agree now: the table comes from the local checkpoint,
    // which must still know o5 (a key it only ever had from the seeding).
    appendFileSync(log, order(5, base + 200));
    await run();
    const ids = await rows();
    expect(ids.length).toBe(101);
    expect(ids.filter((id) => id === 'o5')).toEqual(['o5']);
  }, 60_000);
});
