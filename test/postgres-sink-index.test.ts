/**
 * PostgreSQL sink, `index=`: each listed mapped column gets a btree index on
 * (column, event_time), on a table the sink creates and on one that exists
 * already; the dashboard query "newest rows of one symbol" then uses it. A
 * name that is not a mapped column is a configuration error naming it (CLI
 * exit 2) before anything connects.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Engine } from '../dist/src/index.js';
import { runCli } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const base = Date.parse('2026-12-03T17:00:00Z');

/** `symbols` of them in turn: with many, one symbol's rows are few enough for the planner to want the index. */
function log(n: number, symbols = 3): string {
  const dir = workdir();
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `o${i}`, symbol: `S${i % symbols}`, side: i % 2 ? 'buy' : 'sell', timestamp: base + i }));
  writeFileSync(join(dir, 'orders.ndjson'), `${lines.join('\n')}\n`);
  return join(dir, 'orders.ndjson');
}

async function indexDefs(table: string): Promise<string[]> {
  return (await pg.server.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname', [table])).map((r) => r.indexdef);
}

describe('PostgreSQL sink: index=', () => {
  it('creates a (column, event_time) btree per listed column, and the newest-rows query uses it', async (ctx) => {
    requirePostgres(ctx);
    const engine = new Engine({ input: log(3000, 50), once: true, workers: 2, sink: pg.server.url('table=dash&columns=id,symbol,side&index=symbol,side') as `postgres://${string}` });
    await engine.start();
    await engine.finished();
    await engine.stop();
    const defs = await indexDefs('dash');
    expect(defs).toContainEqual(expect.stringMatching(/INDEX dash_symbol_time ON public\.dash USING btree \(symbol, event_time\)/));
    expect(defs).toContainEqual(expect.stringMatching(/INDEX dash_side_time ON public\.dash USING btree \(side, event_time\)/));
    expect((await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM dash'))[0]!.n).toBe('3000');
    await pg.server.query('ANALYZE dash');
    const plan = (await pg.server.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT * FROM dash WHERE symbol = 'S7' ORDER BY event_time DESC LIMIT 100`)).map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan.* on dash_symbol_time|Index Scan Backward using dash_symbol_time/);
  });

  it('adds a listed index to a table that exists already, keeping its rows', async (ctx) => {
    requirePostgres(ctx);
    const input = log(500);
    const first = new Engine({ input, once: true, workers: 2, sink: pg.server.url('table=later&columns=id,symbol') as `postgres://${string}` });
    await first.start();
    await first.finished();
    await first.stop();
    expect((await indexDefs('later')).join('\n')).not.toMatch(/later_symbol_time/);
    const second = new Engine({ input, once: true, workers: 2, sink: pg.server.url('table=later&columns=id,symbol&index=symbol') as `postgres://${string}` });
    await second.start();
    await second.finished();
    await second.stop();
    expect((await indexDefs('later')).join('\n')).toMatch(/INDEX later_symbol_time ON public\.later USING btree \(symbol, event_time\)/);
    const valid = await pg.server.query<{ valid: boolean }>(`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'later_symbol_time'::regclass`);
    expect(valid[0]!.valid).toBe(true);
    expect((await pg.server.query<{ n: string }>('SELECT count(*) AS n FROM later'))[0]!.n).toBe('500');
  });

  it('names a column that is not mapped (ConfigError; CLI exit 2, nothing created)', async (ctx) => {
    requirePostgres(ctx);
    expect(() => new Engine({ input: 'x', sink: 'postgres://u@h/db?table=orders&columns=id,symbol&index=venue' })).toThrow(ConfigError);
    expect(() => new Engine({ input: 'x', sink: 'postgres://u@h/db?table=orders&columns=id,symbol&index=venue' })).toThrow(/index column 'venue' is not a mapped column \(columns: id, symbol\)/);
    const cli = await runCli(['run', '--once', '--no-metrics', '--input', log(10), '--sink', pg.server.url('table=never&columns=id,symbol&index=symbol,venue')], { env: { ...process.env } });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/index column 'venue' is not a mapped column/);
    expect(await pg.server.query(`SELECT 1 FROM pg_tables WHERE tablename = 'never'`)).toEqual([]);
  });
});
