/**
 * PostgreSQL sink, its tables are created whole or not at all: the records
 * table with its unique index (and the rollup table with the comment naming
 * its width) in one transaction. An engine killed between two of those
 * statements once left a table without its unique index, which every later
 * start refused; engines starting at the same moment on a fresh database
 * could see the table before its index, or collide creating it. A start
 * that finds the creation lock held for long says so, and goes on when it can.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, SinkTableError } from '../dist/src/index.js';
import { parsePostgresSink } from '../dist/src/config/postgres-sink.js';
import { ensureTables } from '../dist/src/sinks/postgres/schema.js';
import { RollupSql } from '../dist/src/sinks/postgres/rollup.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const COLUMNS = 'columns=id,symbol,side,price:numeric,qty:numeric';
const ENGINES = 8;

function input(records: number): string {
  const base = Date.parse('2026-12-05T02:00:00Z');
  const lines = Array.from({ length: records }, (_, i) => JSON.stringify({ id: `o${i}`, symbol: i % 2 ? 'BTCUSDT' : 'ÉTHUSDT', side: 'buy', price: '100.5', qty: '2', timestamp: base + i }));
  const path = join(workdir(), 'orders.ndjson');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('PostgreSQL sink: creating its tables', () => {
  it(`${ENGINES} engines setting up the same fresh tables at once all find them whole`, async (ctx) => {
    requirePostgres(ctx);
    for (const table of ['t1', 't2', 't3', 't4']) {
      const config = parsePostgresSink(pg.server.url(`table=fresh_${table}.${table}&${COLUMNS}&index=symbol&rollup=1s`));
      const clients = await Promise.all(Array.from({ length: ENGINES }, () => pg.server.client()));
      try {
        const outcomes = await Promise.allSettled(
          clients.map(async (client) => {
            const layout = await ensureTables(client, config);
            await new RollupSql(config, config.rollup!).ensureTable(client);
            return layout.qualified;
          }),
        );
        const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
        expect(refused).toEqual([]);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
      const indexes = await pg.server.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname', [`fresh_${table}`, table]);
      expect(indexes.map((i) => i.indexdef.replace(/^.* USING /, ''))).toEqual(['btree (event_time, key_hash)', 'brin (event_time)', 'btree (symbol, event_time)']);
      const [comment] = await pg.server.query<{ c: string }>(`SELECT obj_description('fresh_${table}.${table}_rollup'::regclass, 'pg_class') AS c`);
      expect(comment!.c).toBe('ordertail rollup: bucket_ms=1000');
    }
  });

  it('a name the unique index needs, taken by another relation: a SinkTableError, and no table left without its index', async (ctx) => {
    requirePostgres(ctx);
    await pg.server.query('CREATE TABLE other (x int)');
    await pg.server.query('CREATE INDEX fills_dedup ON other (x)');
    const path = input(2_000);
    const sink = pg.server.url(`table=fills&${COLUMNS}`) as `postgres://${string}`;
    const err = await new Engine({ input: path, once: true, sink }).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SinkTableError);
    expect(err).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', column: 'key_hash' });
    expect((err as Error).message).toMatch(/cannot create table public\.fills and its indexes: relation "fills_dedup" already exists/);
    expect(await pg.server.query(`SELECT 1 FROM pg_class WHERE relname = 'fills'`)).toEqual([]);

    // The operator renames the other index: the next start creates the table and writes every record.
    await pg.server.query('ALTER INDEX fills_dedup RENAME TO other_x');
    const engine = new Engine({ input: path, once: true, sink });
    await engine.start();
    await engine.finished();
    await engine.stop();
    expect(await pg.server.rowCount('fills')).toBe(2_000);
  });

  it('a creation lock held elsewhere past its timeout: a warning naming it, then the start goes on once it is let go', async (ctx) => {
    requirePostgres(ctx);
    const holder = await pg.server.client();
    await holder.query(`SELECT pg_advisory_lock(hashtext('ordertail: sink tables'))`);
    const engine = new Engine({ input: input(500), once: true, sink: pg.server.url(`table=held&${COLUMNS}`) as `postgres://${string}` });
    const warnings: string[] = [];
    engine.on('warning', (m, code) => warnings.push(`${code} ${m}`));
    const started = engine.start();
    const t0 = Date.now();
    while (warnings.length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
    expect(warnings.join('\n')).toMatch(/ORDERTAIL_SINK_UNAVAILABLE .*another session has held the lock for creating the sink's tables for over 5 s/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
    await holder.query(`SELECT pg_advisory_unlock(hashtext('ordertail: sink tables'))`);
    await holder.end();
    await started;
    await engine.finished();
    await engine.stop();
    expect(await pg.server.rowCount('held')).toBe(500);
  });

  it('a rollup table created with its width: its width is checked on the next start', async (ctx) => {
    requirePostgres(ctx);
    const path = input(100);
    const first = new Engine({ input: path, once: true, sink: pg.server.url(`table=bars&${COLUMNS}&rollup=1s`) as `postgres://${string}` });
    await first.start();
    await first.finished();
    await first.stop();
    const err = await new Engine({ input: path, once: true, sink: pg.server.url(`table=bars&${COLUMNS}&rollup=1m`) as `postgres://${string}` }).start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', message: expect.stringMatching(/holds buckets of 1000 ms, the sink was given rollup=1m/) });
  });
});
