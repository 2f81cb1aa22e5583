/**
 * PostgreSQL sink: a record the database refuses (a string jsonb cannot hold,
 * a value its mapped column cannot take) fails its batch, which is split until
 * the record is alone; it is dead-lettered with the database's message and
 * every other record of the batch lands.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

describe('PostgreSQL sink: bad rows', () => {
  it('dead-letters the one record the database refuses, with its message; the rest land', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const base = Date.parse('2026-12-03T12:00:00Z');
    const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: `o${i}`, symbol: 'ETHUSDT', qty: String(i), timestamp: base + i }));
    // Valid JSON the parser accepts, but jsonb has no \u0000; and a qty numeric cannot read.
    lines[417] = `{"id":"o417","symbol":"ETH\\u0000USDT","qty":"1","timestamp":${base + 417}}`;
    lines[800] = `{"id":"o800","symbol":"ETHUSDT","qty":"lots","timestamp":${base + 800}}`;
    writeFileSync(join(dir, 'orders.ndjson'), `${lines.join('\n')}\n`);
    const dead = join(dir, 'dead.ndjson');
    const engine = new Engine({ input: join(dir, 'orders.ndjson'), once: true, workers: 1, deadLetter: dead, sink: pg.server.url('table=orders&columns=id,symbol,qty:numeric') as `postgres://${string}` });
    await engine.start();
    await engine.finished();
    await engine.stop();
    const rows = await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM orders');
    expect(rows[0]!.n).toBe('998');
    const missing = await pg.server.query<{ id: string }>(`SELECT id FROM orders WHERE id IN ('o417', 'o800')`);
    expect(missing).toEqual([]);
    const letters = readLines(dead).map((l) => JSON.parse(l) as { file: string; reason: string; sample: string; error: string });
    expect(letters.length).toBe(2);
    const byId = new Map(letters.map((l) => [(JSON.parse(l.sample) as { id: string }).id, l]));
    expect(byId.get('o417')).toMatchObject({ file: 'postgres:public.orders', reason: 'database_rejected' });
    expect(byId.get('o417')!.error).toMatch(/unsupported Unicode escape sequence.*SQLSTATE 22P05/);
    expect(byId.get('o417')!.sample).toBe(lines[417]);
    expect(byId.get('o800')!.error).toMatch(/invalid input syntax for type numeric: "lots".*SQLSTATE 22P02/);
    // The offsets moved past them: a re-run adds nothing and dead-letters nothing again.
    const again = new Engine({ input: join(dir, 'orders.ndjson'), once: true, workers: 1, deadLetter: dead, sink: pg.server.url('table=orders&columns=id,symbol,qty:numeric') as `postgres://${string}` });
    await again.start();
    await again.finished();
    await again.stop();
    expect((await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM orders'))[0]!.n).toBe('998');
    expect(readLines(dead).length).toBe(2);
  });
});
