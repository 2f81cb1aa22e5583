/**
 * The PostgreSQL sink (issue 22), against a throwaway PostgreSQL cluster on
 * loopback (test/helpers/postgres.ts; needs the Debian `postgresql` package):
 *
 * 1. Client: the same staging rows (COPY text, built once by the sink's
 *    RowEncoder) copied into the same table by `pg` + `pg-copy-streams` and by
 *    `postgres`, in batches of the sink's default size, one transaction each,
 *    the two alternated; rows/s and the same-run ratio of medians.
 * 2. End to end: `run --once --sink postgres://…` of an order log (table,
 *    unique key, BRIN, mapped columns, offsets) against `psql \copy` of the
 *    same file into a table of one jsonb column, and against psql running
 *    the sink's own SQL (\copy of its staging rows, then its INSERT … SELECT
 *    … ON CONFLICT into the same table layout, one transaction): rows/s and
 *    the ratios; and against psql \copy of the rows the sink copies straight
 *    into its table (the encoder's direct rows, same layout and indexes): the
 *    floor for the sink's own COPY. With BENCH_BASELINE=<a built checkout> (bench/baseline.sh)
 *    its CLI is one more contender, same table layout.
 *
 *    The same run with `index=symbol` (a btree on (symbol, event_time) for the
 *    dashboards, part 4) is a fourth contender: what that index costs; and
 *    with `connections=1` (one transaction at a time) a fifth: what writing a
 *    batch while the previous one's transaction finishes gains. With
 *    `rollup=1s` (and qty mapped, which the rollup needs) a sixth, against
 *    the same columns without it (a seventh): what the rollup costs.
 * 3. Follow mode (the default and connections=1, in the order A B B A): a writer appends orders at BENCH_PG_FOLLOW_RATE records/s
 *    (default 5000) for BENCH_PG_FOLLOW_SECONDS (default 20) while the CLI
 *    follows the log; append → committed per record is the row's insert time
 *    (an extra column defaulting to clock_timestamp(), read inside the
 *    commit's transaction) less the time the writer wrote into the record.
 *
 * 4. Dashboard queries while the sink writes 20,000 rows/s (postgres-dashboard.ts).
 *
 *   npm run build && npm run build:bench && node dist/bench/postgres-sink.js
 *   (BENCH_PG_RECORDS, default 400000; BENCH_PG_ROUNDS, default 3;
 *   BENCH_PG_PARTS, default client,e2e,follow,dashboard: the parts to run)
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import postgres from 'postgres';
import { RowBatch, RowEncoder } from '../src/sinks/postgres/rows.js';
import { BatchWriter, STAGING, STAGING_COLUMNS } from '../src/sinks/postgres/batch-writer.js';
import { parsePostgresSink } from '../src/config/postgres-sink.js';
import { ensureTables } from '../src/sinks/postgres/schema.js';
import { PG_DB, PG_PASSWORD, PG_USER, TestPostgres } from '../test/helpers/postgres.js';
import { REPO_ROOT } from './data.js';
import { dashboardLoad } from './postgres-dashboard.js';
import { orderJson } from './pg-orders.js';

const RECORDS = Number(process.env.BENCH_PG_RECORDS ?? 400_000);
const ROUNDS = Number(process.env.BENCH_PG_ROUNDS ?? 3);
const BATCH_ROWS = 10_000;
const TABLE = 'bench_copy (key_hi integer, key_lo integer, event_ms double precision, record jsonb)';

const PARTS = new Set((process.env.BENCH_PG_PARTS ?? 'client,e2e,follow,dashboard').split(','));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function orders(n: number): string {
  const base = Date.parse('2026-12-03T00:00:00Z');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(orderJson(`o-${i}`, i, base + i));
  return `${lines.join('\n')}\n`;
}

/** The sink's staging rows for the log, cut into batches of BATCH_ROWS. */
function batches(log: string): Buffer[] {
  const encoder = new RowEncoder({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20 });
  const all = new RowBatch();
  encoder.encode(Buffer.from(log), all, Date.now());
  const out: Buffer[] = [];
  for (let from = 0; from < all.rows; from += BATCH_ROWS) out.push(Buffer.from(all.slice(from, Math.min(all.rows, from + BATCH_ROWS))));
  return out;
}

async function withPg(server: TestPostgres, chunks: Buffer[]): Promise<number> {
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: PG_USER, password: PG_PASSWORD, database: PG_DB });
  await client.connect();
  await client.query('TRUNCATE bench_copy');
  const t0 = performance.now();
  for (const chunk of chunks) {
    await client.query('BEGIN');
    const copy = client.query(copyFrom('COPY bench_copy FROM STDIN'));
    copy.end(chunk);
    await finished(copy);
    await client.query('COMMIT');
  }
  const ms = performance.now() - t0;
  await client.end();
  return ms;
}

async function withPostgresJs(server: TestPostgres, chunks: Buffer[]): Promise<number> {
  const sql = postgres({ host: '127.0.0.1', port: server.port, user: PG_USER, password: PG_PASSWORD, database: PG_DB, max: 1, onnotice: () => {} });
  await sql`TRUNCATE bench_copy`;
  const t0 = performance.now();
  for (const chunk of chunks) {
    await sql.begin(async (tx) => {
      const copy = await tx`COPY bench_copy FROM STDIN`.writable();
      copy.end(chunk);
      await finished(copy);
    });
  }
  const ms = performance.now() - t0;
  await sql.end();
  return ms;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(command, args, { env, encoding: 'utf8', cwd: REPO_ROOT });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return performance.now() - t0;
}

/** Part 3: append → committed percentiles (ms) in follow mode. */
async function followLatency(server: TestPostgres, dir: string, env: NodeJS.ProcessEnv, extra: string): Promise<string> {
  const rate = Number(process.env.BENCH_PG_FOLLOW_RATE ?? 5000);
  const seconds = Number(process.env.BENCH_PG_FOLLOW_SECONDS ?? 20);
  const url = server.url(`table=follow&columns=id,symbol,side${extra}`);
  const admin = await server.client();
  await admin.query('DROP TABLE IF EXISTS follow');
  await ensureTables(admin, parsePostgresSink(url));
  // A run before this one into the same table left its offsets (same log path, so the same consumer).
  await admin.query('DELETE FROM ordertail_offsets');
  await admin.query('ALTER TABLE follow ADD COLUMN inserted_at timestamptz DEFAULT clock_timestamp()');
  await admin.end();
  const log = join(dir, 'follow.ndjson');
  writeFileSync(log, '');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'ordertail.js'), 'run', '--no-metrics', '--no-checkpoint', '--log-level', 'warn', '--input', log, '--sink', url], { env, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const tickMs = 10;
  const perTick = Math.round((rate * tickMs) / 1000);
  let seq = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    const lines: string[] = [];
    for (let i = 0; i < perTick; i++, seq++) lines.push(JSON.stringify({ id: `f-${seq}`, symbol: 'BTCUSDT', side: 'buy', timestamp: Date.now(), written_at: Date.now() }));
    appendFileSync(log, `${lines.join('\n')}\n`);
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await new Promise((r) => setTimeout(r, 2000));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const rows = await server.query<{ n: string; p50: number; p99: number; max: number }>(
    `SELECT count(*) AS n,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
       FROM (SELECT extract(epoch FROM inserted_at) * 1000 - (record->>'written_at')::float8 AS ms FROM follow) s`,
  );
  const r = rows[0]!;
  return `follow  ${extra ? extra.slice(1) : 'default'}: ${rate} records/s for ${seconds} s: ${r.n} of ${seq} rows; append → committed p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`;
}

/** Part 2 (and the index's cost): rows/s of each contender, alternated within each round. */
async function endToEnd(server: TestPostgres, dir: string, env: NodeJS.ProcessEnv, logPath: string, chunks: Buffer[]): Promise<string[]> {
  const rowsPath = join(dir, 'rows.tsv');
  writeFileSync(rowsPath, Buffer.concat(chunks));
  // The sink's table layout and SQL, run by psql.
  const sqlConfig = parsePostgresSink(server.url('table=orders_sql&columns=id,symbol,side,price:numeric'));
  const admin = await server.client();
  const layout = await ensureTables(admin, sqlConfig);
  await admin.end();
  const sqlScript = join(dir, 'sink.sql');
  writeFileSync(sqlScript, `BEGIN;\nCREATE TEMP TABLE ${STAGING} ${STAGING_COLUMNS};\n\\copy ${STAGING} FROM '${rowsPath}'\n${new BatchWriter(sqlConfig, layout.qualified).insertSql};\nCOMMIT;\n`);
  // The rows the sink copies straight into its table, copied by psql into the same layout: the floor for the sink's COPY.
  const directConfig = parsePostgresSink(server.url('table=orders_direct&columns=id,symbol,side,price:numeric'));
  const directAdmin = await server.client();
  await ensureTables(directAdmin, directConfig);
  await directAdmin.end();
  const directRows = new RowBatch();
  new RowEncoder({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20, columns: directConfig.columns }).encode(Buffer.from(readFileSync(logPath)), directRows, Date.now());
  const directPath = join(dir, 'direct.tsv');
  writeFileSync(directPath, directRows.directText() ?? '');
  const directCopy = `\\copy orders_direct (event_time, key_hash, id, symbol, side, price, record) FROM '${directPath}'`;
  await server.query('CREATE TABLE psql_copy (record jsonb)');
  const psqlArgs = ['-h', '127.0.0.1', '-p', String(server.port), '-U', PG_USER, '-d', PG_DB, '-v', 'ON_ERROR_STOP=1', '-q'];
  const cli =
    (params: string, root = REPO_ROOT) =>
    (): number =>
      timed(process.execPath, [join(root, 'bin', 'ordertail.js'), 'run', '--once', '--no-metrics', '--input', logPath, '--sink', server.url(params)], env);
  const baseline = process.env.BENCH_BASELINE;
  const contenders = {
    sink: cli('table=orders&columns=id,symbol,side,price:numeric'),
    ...(baseline ? { sinkBaseline: cli('table=orders_base&columns=id,symbol,side,price:numeric', baseline) } : {}),
    sinkIndexed: cli('table=orders_ix&columns=id,symbol,side,price:numeric&index=symbol'),
    sinkOneConnection: cli('table=orders_c1&columns=id,symbol,side,price:numeric&connections=1'),
    sinkQty: cli('table=orders_qty&columns=id,symbol,side,price:numeric,qty:numeric'),
    sinkRollup: cli('table=orders_ru&columns=id,symbol,side,price:numeric,qty:numeric&rollup=1s'),
    psql: (): number => timed('psql', [...psqlArgs, '-c', `\\copy psql_copy (record) FROM '${logPath}'`], env),
    psqlSql: (): number => timed('psql', [...psqlArgs, '-f', sqlScript], env),
    psqlDirect: (): number => timed('psql', [...psqlArgs, '-c', directCopy], env),
  };
  type Name = keyof typeof contenders | 'sinkBaseline';
  const names = Object.keys(contenders) as Name[];
  const results = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  const run = (name: Name): number => (contenders as Record<Name, () => number>)[name]();
  for (let round = 0; round < ROUNDS; round++) {
    await server.query('DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS orders_base; DROP TABLE IF EXISTS orders_ix; DROP TABLE IF EXISTS orders_c1; DROP TABLE IF EXISTS orders_qty; DROP TABLE IF EXISTS orders_ru; DROP TABLE IF EXISTS orders_ru_rollup; DROP TABLE IF EXISTS ordertail_offsets; TRUNCATE psql_copy; TRUNCATE orders_sql; TRUNCATE orders_direct');
    // Alternate the order: a shared machine drifts.
    for (const name of round % 2 === 0 ? names : [...names].reverse()) results[name].push(run(name));
    for (const table of ['orders', 'orders_ix', 'orders_c1', 'orders_qty', 'orders_ru', ...(baseline ? ['orders_base'] : [])]) {
      const n = Number((await server.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
      if (n !== RECORDS) throw new Error(`the sink wrote ${n} rows into ${table}, expected ${RECORDS}`);
    }
    const counted = Number((await server.query<{ n: string }>('SELECT sum(records) AS n FROM orders_ru_rollup'))[0]!.n);
    if (counted !== RECORDS) throw new Error(`the rollup counted ${counted} rows, expected ${RECORDS}`);
  }
  const rate = (ms: number[]): string => `${Math.round(RECORDS / (median(ms) / 1000)).toLocaleString('en-US')} rows/s (median of ${ms.map((m) => Math.round(m)).join(', ')} ms)`;
  const ratio = (a: Name, b: Name): string => (median(results[b]) / median(results[a])).toFixed(2);
  return [
    `end to end  run --once --sink postgres: ${rate(results.sink)}`,
    ...(baseline
      ? [`end to end  the same, baseline build (${baseline}): ${rate(results.sinkBaseline)}`, `end to end  ratio this build / baseline (rows/s): ${ratio('sink', 'sinkBaseline')}`]
      : []),
    `end to end  the same with index=symbol:  ${rate(results.sinkIndexed)}`,
    `end to end  ratio with index=symbol / without (rows/s): ${ratio('sinkIndexed', 'sink')}`,
    `end to end  the same with connections=1: ${rate(results.sinkOneConnection)}`,
    `end to end  ratio connections=2 (default) / connections=1 (rows/s): ${ratio('sink', 'sinkOneConnection')}`,
    `end to end  columns with qty:numeric:    ${rate(results.sinkQty)}`,
    `end to end  the same with rollup=1s:     ${rate(results.sinkRollup)}`,
    `end to end  ratio with rollup=1s / without (rows/s): ${ratio('sinkRollup', 'sinkQty')}`,
    `end to end  psql \\copy (jsonb only):    ${rate(results.psql)}`,
    `end to end  ratio sink / psql (rows/s): ${ratio('sink', 'psql')}`,
    `end to end  psql, the sink's SQL:       ${rate(results.psqlSql)}`,
    `end to end  ratio sink / psql with the sink's SQL (rows/s): ${ratio('sink', 'psqlSql')}`,
    `end to end  psql \\copy of the sink's direct rows into its layout: ${rate(results.psqlDirect)}`,
    `end to end  ratio sink / psql direct rows (rows/s): ${ratio('sink', 'psqlDirect')}`,
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ordertail-bench-pg-'));
  const server = await TestPostgres.start();
  try {
    const log = orders(RECORDS);
    const logPath = join(dir, 'orders.ndjson');
    writeFileSync(logPath, log);
    const chunks = batches(log);
    const env = { ...process.env, PGPASSWORD: PG_PASSWORD };
    console.log(`records: ${RECORDS} (${(log.length / 1e6).toFixed(1)} MB), batches of ${BATCH_ROWS}, ${ROUNDS} rounds; parts: ${[...PARTS].join(', ')}`);
    if (PARTS.has('client')) {
      await server.query(`CREATE TABLE ${TABLE}`);
      const results = { pg: [] as number[], postgresJs: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first: a shared machine drifts.
        if (round % 2 === 0) {
          results.pg.push(await withPg(server, chunks));
          results.postgresJs.push(await withPostgresJs(server, chunks));
        } else {
          results.postgresJs.push(await withPostgresJs(server, chunks));
          results.pg.push(await withPg(server, chunks));
        }
      }
      const rate = (ms: number[]): string => `${Math.round(RECORDS / (median(ms) / 1000)).toLocaleString('en-US')} rows/s (median of ${ms.map((m) => Math.round(m)).join(', ')} ms)`;
      console.log(`client  pg + pg-copy-streams: ${rate(results.pg)}`);
      console.log(`client  postgres:             ${rate(results.postgresJs)}`);
      console.log(`client  ratio pg / postgres (rows/s): ${(median(results.postgresJs) / median(results.pg)).toFixed(2)}`);
    }
    if (PARTS.has('e2e')) for (const line of await endToEnd(server, dir, env, logPath, chunks)) console.log(line);
    // The default (two connections) against one transaction at a time, in the order A B B A: a shared machine drifts.
    if (PARTS.has('follow')) for (const extra of ['', '&connections=1', '&connections=1', '']) console.log(await followLatency(server, dir, env, extra));
    if (PARTS.has('dashboard')) for (const line of await dashboardLoad(server, dir, env)) console.log(line);
  } finally {
    server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
