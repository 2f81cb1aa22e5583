/**
 * PostgreSQL sink, `rollup=`: a bad width, or a rollup without the mapped
 * columns it sums, is a configuration error naming the option before
 * anything connects; an existing TABLE_rollup that does not fit (a column
 * missing or of another type, no unique key, another bucket width) is a
 * SinkTableError naming the column, and nothing is written.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Engine, SinkTableError } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const COLUMNS = 'columns=id,symbol,side,price:numeric,qty:numeric';

function input(): string {
  const dir = workdir();
  writeFileSync(join(dir, 'orders.ndjson'), `{"id":"o1","symbol":"BTCUSDT","side":"buy","price":"100.5","qty":"2","timestamp":1764756000000}\n`);
  return join(dir, 'orders.ndjson');
}

async function startError(params: string): Promise<unknown> {
  return new Engine({ input: input(), once: true, sink: pg.server.url(params) as `postgres://${string}` }).start().then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('PostgreSQL sink: the rollup option and table', () => {
  it('refuses a bad width, or a rollup without mapped symbol, price and qty columns, naming the option', () => {
    const url = (params: string): `postgres://${string}` => `postgres://u@h/db?table=orders&${params}`;
    for (const width of ['0s', '1', '1.5s', '2d', '25h', 'fast']) {
      expect(() => new Engine({ input: 'x', sink: url(`${COLUMNS}&rollup=${width}`) })).toThrow(new RegExp(`rollup must be a bucket width .* got '${width.replace('.', '\\.')}'`));
    }
    expect(() => new Engine({ input: 'x', sink: url('columns=id,symbol,side,price:numeric&rollup=1s') })).toThrow(/rollup needs a mapped column 'qty'/);
    expect(() => new Engine({ input: 'x', sink: url('rollup=1s') })).toThrow(/rollup needs a mapped column 'price'/);
    expect(() => new Engine({ input: 'x', sink: url('columns=id,symbol,price,qty:numeric&rollup=1s') })).toThrow(/rollup sums column 'price', which is mapped as text/);
    expect(() => new Engine({ input: 'x', sink: url('rollup=1s') })).toThrow(ConfigError);
    expect(() => new Engine({ input: 'x', sink: url(`${COLUMNS}&rollup=1s`) })).not.toThrow();
  });

  it('refuses an existing rollup table that does not fit, naming the column; nothing is written', async (ctx) => {
    requirePostgres(ctx);
    await pg.server.query('CREATE TABLE a_rollup (symbol text, bucket timestamptz, records bigint, qty numeric, notional numeric, low numeric, high numeric, last_price numeric, PRIMARY KEY (symbol, bucket))');
    const missing = await startError(`table=a&${COLUMNS}&rollup=1s`);
    expect(missing).toBeInstanceOf(SinkTableError);
    expect(missing).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', column: 'last_time' });
    expect((missing as Error).message).toMatch(/rollup table public\.a_rollup exists but has no column 'last_time'/);

    await pg.server.query('ALTER TABLE a_rollup ADD COLUMN last_time text');
    expect(await startError(`table=a&${COLUMNS}&rollup=1s`)).toMatchObject({ column: 'last_time', message: expect.stringMatching(/column 'last_time' is text, the sink writes timestamp with time zone/) });

    await pg.server.query('CREATE TABLE b_rollup (symbol text, bucket timestamptz, records bigint, qty numeric, notional numeric, low numeric, high numeric, last_price numeric, last_time timestamptz)');
    expect(await startError(`table=b&${COLUMNS}&rollup=1s`)).toMatchObject({ column: 'bucket', message: expect.stringMatching(/no unique index on \(symbol, bucket\)/) });
    expect((await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM b'))[0]!.n).toBe('0');
  });

  it('creates the table on the first run and refuses another bucket width later', async (ctx) => {
    requirePostgres(ctx);
    const engine = new Engine({ input: input(), once: true, sink: pg.server.url(`table=c&${COLUMNS}&rollup=1m`) as `postgres://${string}` });
    await engine.start();
    await engine.finished();
    await engine.stop();
    const rows = await pg.server.query<{ symbol: string; bucket: Date; records: string; notional: string; last_price: string }>('SELECT symbol, bucket, records::text, notional::text, last_price::text FROM c_rollup');
    expect(rows).toEqual([{ symbol: 'BTCUSDT', bucket: new Date(Math.floor(1764756000000 / 60_000) * 60_000), records: '1', notional: '201.0', last_price: '100.5' }]);
    const err = await startError(`table=c&${COLUMNS}&rollup=1s`);
    expect(err).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', column: 'bucket' });
    expect((err as Error).message).toMatch(/holds buckets of 60000 ms, the sink was given rollup=1s/);
  });
});
