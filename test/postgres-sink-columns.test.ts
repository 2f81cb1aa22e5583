/**
 * PostgreSQL sink: every record lands once, as its original JSON in `record`
 * (jsonb) plus the mapped columns, the table and its indexes created on the
 * first run; records without the dedup key land too (NULL key_hash).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

describe('PostgreSQL sink: records and mapped columns', () => {
  // batch=500: full batches ask for commits from inside the sink's writes.
  it('writes every record once with its mapped columns, creating the table and indexes', async (ctx) => {
    requirePostgres(ctx);
    const dir = workdir();
    const base = Date.parse('2026-12-03T10:00:00Z');
    const lines: string[] = [];
    for (let i = 0; i < 2500; i++) {
      lines.push(JSON.stringify({ id: `o${i}`, symbol: i % 2 ? 'BTCUSDT' : 'ETHUSDT', side: i % 3 ? 'buy' : 'sell', price: `${100 + i}.5`, timestamp: base + i }));
    }
    // Copies of the first 100 in another file (reversed: a file that starts
    // with another's bytes is taken for a copytruncate copy), and two records without the key.
    const copies = lines.slice(0, 100).reverse();
    writeFileSync(join(dir, 'a.ndjson'), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'b.ndjson'), `${copies.join('\n')}\n{"symbol":"X","timestamp":${base}}\n{"symbol":"X","timestamp":${base}}\n`);
    const engine = new Engine({ input: join(dir, '*.ndjson'), once: true, workers: 2, sink: pg.server.url('table=orders&columns=id,symbol,side,price:numeric&batch=500') as `postgres://${string}` });
    await engine.start();
    await engine.finished();
    await engine.stop();
    expect(engine.stats()).toMatchObject({ recordsRead: 2602, recordsEmitted: 2502, duplicates: 100, withoutKey: 2 });
    const rows = await pg.server.query<{ id: string | null; symbol: string; side: string | null; price: string | null; event_time: Date; record: { id?: string } ; key_hash: string | null }>('SELECT id, symbol, side, price, event_time, record, key_hash FROM orders');
    expect(rows.length).toBe(2502);
    const keyed = rows.filter((r) => r.id !== null);
    expect(new Set(keyed.map((r) => r.id)).size).toBe(2500);
    const o7 = keyed.find((r) => r.id === 'o7')!;
    expect(o7).toMatchObject({ symbol: 'BTCUSDT', side: 'buy', price: '107.5' });
    expect(o7.event_time.getTime()).toBe(base + 7);
    expect(o7.record).toEqual(JSON.parse(lines[7]!));
    expect(rows.filter((r) => r.key_hash === null).length).toBe(2);
    const indexes = await pg.server.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'orders'`);
    expect(indexes.map((i) => i.indexdef).join('\n')).toMatch(/UNIQUE INDEX .* \(event_time, key_hash\)/);
    expect(indexes.map((i) => i.indexdef).join('\n')).toMatch(/USING brin \(event_time\)/);
    const offsets = await pg.server.query<{ files: unknown[] }>('SELECT files FROM ordertail_offsets');
    expect(offsets.length).toBe(1);
    expect(offsets[0]!.files.length).toBe(2);
  });
});
