/**
 * PostgreSQL sink: an existing table that cannot take the records is an error
 * naming the column (SinkTableError, code ORDERTAIL_SINK_TABLE; CLI exit 2),
 * and nothing is written. Bad sink URLs (a password on the command line, an
 * unknown parameter) are usage errors before anything connects.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Engine, SinkTableError } from '../dist/src/index.js';
import { runCli } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

function input(): string {
  const dir = workdir();
  writeFileSync(join(dir, 'orders.ndjson'), `{"id":"o1","symbol":"BTCUSDT","side":"buy","timestamp":1764756000000}\n`);
  return join(dir, 'orders.ndjson');
}

describe('PostgreSQL sink: the table and the URL', () => {
  it('refuses an existing table whose column has another type, naming the column (CLI exit 2)', async (ctx) => {
    requirePostgres(ctx);
    await pg.server.query('CREATE TABLE fills (event_time timestamptz NOT NULL, key_hash bigint, id text, symbol integer, side text, record jsonb NOT NULL)');
    await pg.server.query('CREATE UNIQUE INDEX ON fills (key_hash, event_time)');
    const engine = new Engine({ input: input(), once: true, sink: pg.server.url('table=fills') as `postgres://${string}` });
    const err = await engine.start().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SinkTableError);
    expect(err).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', column: 'symbol' });
    expect((err as Error).message).toMatch(/column 'symbol' is integer, the sink writes text/);
    const cli = await runCli(['run', '--once', '--no-metrics', '--input', input(), '--sink', pg.server.url('table=fills')], { env: { ...process.env } });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/column 'symbol' is integer/);
    expect((await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM fills'))[0]!.n).toBe('0');
  });

  it('refuses a table without a mapped column, or without the unique key', async (ctx) => {
    requirePostgres(ctx);
    await pg.server.query('CREATE TABLE trades (event_time timestamptz NOT NULL, key_hash bigint, id text, record jsonb NOT NULL)');
    const missing = await new Engine({ input: input(), once: true, sink: pg.server.url('table=trades&columns=id,venue') as `postgres://${string}` }).start().then(() => undefined, (e: unknown) => e);
    expect(missing).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', column: 'venue' });
    expect((missing as Error).message).toMatch(/has no column 'venue'/);
    const noKey = await new Engine({ input: input(), once: true, sink: pg.server.url('table=trades&columns=id') as `postgres://${string}` }).start().then(() => undefined, (e: unknown) => e);
    expect(noKey).toMatchObject({ code: 'ORDERTAIL_SINK_TABLE', column: 'key_hash' });
    expect((noKey as Error).message).toMatch(/no unique index on \(key_hash, event_time\)/);
  });

  it('asks for TLS as libpq names it: sslmode=require against a server without TLS is a configuration error', async (ctx) => {
    requirePostgres(ctx);
    const err = await new Engine({ input: input(), once: true, sink: pg.server.url('table=orders&sslmode=require') as `postgres://${string}` }).start().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/does not support SSL/);
    expect(() => new Engine({ input: 'x', sink: 'postgres://u@h/db?table=orders&sslmode=allow' })).toThrow(/sslmode must be one of/);
  });

  it('takes no password on the command line, and names unknown URL parameters (exit 2)', async () => {
    const withPassword = await runCli(['run', '--once', '--no-metrics', '--input', input(), '--sink', 'postgres://u:secret@127.0.0.1:1/db?table=orders']);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toMatch(/PGPASSWORD or a pgpass file/);
    expect(withPassword.stderr).not.toContain('secret');
    const unknown = await runCli(['run', '--once', '--no-metrics', '--input', input(), '--sink', 'postgres://u@127.0.0.1:1/db?table=orders&sslmod=require']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown URL parameter 'sslmod'/);
    expect(() => new Engine({ input: 'x', sink: 'postgres://u@h/db?table=orders&columns=record' })).toThrow(ConfigError);
  });
});
