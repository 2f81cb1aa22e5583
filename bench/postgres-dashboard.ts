/**
 * Part 4 of bench/postgres-sink.ts: a dashboard's queries against the sink's
 * table while the CLI follows a log appended at 20,000 orders/s (issue 22:
 * "last 5 minutes of one symbol, p95 ≤ 10 ms at 5,000 queries/min").
 *
 * The table (`index=symbol`) is first given BENCH_PG_DASH_HISTORY_SECONDS of
 * history at the writer's rate, written by SQL and ending now, so "the last
 * 5 minutes" holds what it would in production. Queries are issued on an
 * open-loop schedule (one every 60000 / BENCH_PG_DASH_QPM ms, whatever the
 * previous ones are doing) over a pool of connections, and each latency is
 * counted from its scheduled time: a slow query delays the ones behind it and
 * that shows, instead of the schedule quietly slipping. The symbol of each
 * query is drawn with the orders' skew (popular pairs are watched more).
 *
 * The sink keeps its rollup (`rollup=1s`: per symbol and second, in each
 * batch's transaction; sinks/postgres/rollup.ts), and the history's rollup
 * is filled by the sink's own upsert.
 *
 * Four queries, each measured on its own at the full rate, idle (no writer;
 * before and after the writer, pooled) and under the writer:
 *   floor           SELECT of the parameter: what the machine and the client add to any query
 *   recent          the newest 100 orders of the symbol
 *   summary         count, sum(qty), VWAP over the last 5 minutes, and the last price, from the rows
 *   summary-rollup  the same from the rollup: the 1 s buckets that start in the last 5 minutes
 * A query whose service time (one at a time, no writer) is longer than the
 * schedule's interval cannot keep up on any number of connections of this
 * 2-core machine: it is timed one at a time instead (idle and under the
 * writer), since an open loop would only measure its queue. After the run the
 * index is dropped and each is timed one at a time again: what it is worth.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parsePostgresSink } from '../src/config/postgres-sink.js';
import { RollupSql } from '../src/sinks/postgres/rollup.js';
import { columnIndexName, ensureTables } from '../src/sinks/postgres/schema.js';
import { PG_DB, PG_PASSWORD, PG_USER, type TestPostgres } from '../test/helpers/postgres.js';
import { REPO_ROOT } from './data.js';
import { SYMBOL_WHEEL } from './pg-orders.js';

const RATE = Number(process.env.BENCH_PG_DASH_RATE ?? 20_000);
const LOADED_SECONDS = Number(process.env.BENCH_PG_DASH_SECONDS ?? 30);
const IDLE_SECONDS = Number(process.env.BENCH_PG_DASH_IDLE_SECONDS ?? 10);
const HISTORY_SECONDS = Number(process.env.BENCH_PG_DASH_HISTORY_SECONDS ?? 270);
const QUERIES_PER_MINUTE = Number(process.env.BENCH_PG_DASH_QPM ?? 5000);
const POOL = 8;
/** Queries waiting beyond this are not issued (counted): an overloaded server must not make the bench run for ever. */
const MAX_OUTSTANDING = 400;
const TABLE = 'dash';
const URL_PARAMS = `table=${TABLE}&columns=id,symbol,side,price:numeric,qty:numeric&index=symbol&rollup=1s`;

const QUERIES = {
  // The floor: what the machine's scheduling and the client add to any query.
  floor: 'SELECT $1::text AS symbol',
  recent: `SELECT event_time, side, price, qty FROM ${TABLE} WHERE symbol = $1 ORDER BY event_time DESC LIMIT 100`,
  summary:
    `SELECT count(*) AS n, sum(qty) AS qty, sum(price * qty) / nullif(sum(qty), 0) AS vwap, ` +
    `(SELECT price FROM ${TABLE} WHERE symbol = $1 ORDER BY event_time DESC LIMIT 1) AS last ` +
    `FROM ${TABLE} WHERE symbol = $1 AND event_time > now() - interval '5 minutes'`,
  'summary-rollup':
    `SELECT sum(records) AS n, sum(qty) AS qty, sum(notional) / nullif(sum(qty), 0) AS vwap, ` +
    `(SELECT last_price FROM ${TABLE}_rollup WHERE symbol = $1 AND last_price IS NOT NULL ORDER BY bucket DESC LIMIT 1) AS last ` +
    `FROM ${TABLE}_rollup WHERE symbol = $1 AND bucket > now() - interval '5 minutes'`,
} as const;
type Kind = keyof typeof QUERIES;

interface Phase {
  /** Latency of each answered query from its scheduled time, ms. */
  readonly latencies: number[];
  readonly notIssued: number;
  readonly failed: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pick = (): string => SYMBOL_WHEEL[Math.floor(Math.random() * SYMBOL_WHEEL.length)]!;

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function openLoop(pool: pg.Pool, kind: Kind, seconds: number): Promise<Phase> {
  const interval = 60_000 / QUERIES_PER_MINUTE;
  const total = Math.floor((seconds * 1000) / interval);
  const latencies: number[] = [];
  const inflight = new Set<Promise<void>>();
  let notIssued = 0;
  let failed = 0;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const scheduled = t0 + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await sleep(wait);
    if (inflight.size >= MAX_OUTSTANDING) {
      notIssued++;
      continue;
    }
    const q: Promise<void> = pool.query(QUERIES[kind], [pick()]).then(
      () => {
        latencies.push(performance.now() - scheduled);
      },
      () => {
        failed++;
      },
    );
    inflight.add(q);
    void q.finally(() => inflight.delete(q));
  }
  await Promise.all(inflight);
  return { latencies, notIssued, failed };
}

async function closedLoop(client: pg.Client, kind: Kind, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await client.query(QUERIES[kind], [pick()]);
    out.push(performance.now() - t0);
  }
  return out;
}

/** HISTORY_SECONDS of orders at RATE, ending now, with the writer's symbols (SQL: a bench should not wait on a second sink run). */
async function fillHistory(client: pg.Client): Promise<number> {
  const n = Math.round(HISTORY_SECONDS * RATE);
  if (n === 0) return 0;
  await client.query(
    `INSERT INTO ${TABLE} (event_time, key_hash, id, symbol, side, price, qty, record)
     SELECT t, -i, 'h-' || i, s, side, price, qty,
            jsonb_build_object('id', 'h-' || i, 'symbol', s, 'side', side, 'price', price, 'qty', qty, 'venue', 'binance', 'timestamp', (extract(epoch FROM t) * 1000)::bigint)
       FROM (SELECT i, now() - $2 * interval '1 second' + i * ($2::float8 * 1000 / $1) * interval '1 millisecond' AS t,
                    ($3::text[])[i % array_length($3::text[], 1) + 1] AS s,
                    CASE WHEN i % 2 = 1 THEN 'buy' ELSE 'sell' END AS side,
                    (100 + (i % 997) / 10.0)::numeric AS price, (i % 13 + 1)::numeric AS qty
               FROM generate_series(1, $1::bigint) i) g`,
    [n, HISTORY_SECONDS, SYMBOL_WHEEL],
  );
  await client.query(`VACUUM ANALYZE ${TABLE}`);
  return n;
}

/** The history's rollup, by the sink's own upsert over all of it (one transaction, as a batch would). */
async function fillRollup(client: pg.Client, rollup: RollupSql): Promise<void> {
  await client.query('BEGIN');
  await client.query(rollup.stagingSql);
  await client.query(rollup.stageTotalsSql(TABLE));
  await client.query(rollup.upsertSql);
  await client.query('COMMIT');
  await client.query(`VACUUM ANALYZE ${TABLE}_rollup`);
}

function describe(label: string, phase: Phase): string {
  const l = phase.latencies;
  const extra = `${phase.notIssued ? `, ${phase.notIssued} not issued (over ${MAX_OUTSTANDING} waiting)` : ''}${phase.failed ? `, ${phase.failed} failed` : ''}`;
  return `${label}: ${l.length} queries, p50 ${percentile(l, 50).toFixed(2)} ms, p95 ${percentile(l, 95).toFixed(2)} ms, p99 ${percentile(l, 99).toFixed(2)} ms, max ${percentile(l, 100).toFixed(1)} ms${extra}`;
}

/** Lines of the report. */
export async function dashboardLoad(server: TestPostgres, dir: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const url = server.url(URL_PARAMS);
  const admin = await server.client();
  await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await admin.query(`DROP TABLE IF EXISTS ${TABLE}_rollup`);
  const config = parsePostgresSink(url);
  await ensureTables(admin, config);
  if (!config.rollup) throw new Error(`${URL_PARAMS} has no rollup=`);
  const rollup = new RollupSql(config, config.rollup);
  await rollup.ensureTable(admin);
  const tFill = performance.now();
  const history = await fillHistory(admin);
  const fillSeconds = (performance.now() - tFill) / 1000;
  const tRollup = performance.now();
  await fillRollup(admin, rollup);
  const buckets = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}_rollup`)).rows[0]!.n);
  const out = [
    `dashboard  history: ${history.toLocaleString('en-US')} rows (${HISTORY_SECONDS} s at ${RATE}/s, by SQL, ${fillSeconds.toFixed(0)} s), ` +
      `${buckets.toLocaleString('en-US')} rollup rows (${((performance.now() - tRollup) / 1000).toFixed(0)} s); queries at ${QUERIES_PER_MINUTE}/min, open loop, pool of ${POOL}`,
  ];
  const pool = new pg.Pool({ host: '127.0.0.1', port: server.port, user: PG_USER, password: PG_PASSWORD, database: PG_DB, max: POOL });
  const idle: Record<Kind, Phase[]> = { floor: [], recent: [], summary: [], 'summary-rollup': [] };
  const loaded: Partial<Record<Kind, Phase>> = {};
  try {
    const kinds = Object.keys(QUERIES) as Kind[];
    const interval = 60_000 / QUERIES_PER_MINUTE;
    const service: Partial<Record<Kind, number[]>> = {};
    for (const kind of kinds) service[kind] = await closedLoop(admin, kind, 10);
    const sustainable = kinds.filter((k) => percentile(service[k]!, 50) <= interval);
    for (const kind of sustainable) idle[kind].push(await openLoop(pool, kind, IDLE_SECONDS));

    const log = join(dir, 'dashboard.ndjson');
    writeFileSync(log, '');
    const cli = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'ordertail.js'), 'run', '--no-metrics', '--no-checkpoint', '--log-level', 'warn', '--input', log, '--sink', url], { env, stdio: 'ignore' });
    const cliExit = new Promise<number | null>((r) => cli.once('exit', r));
    await sleep(1500);
    const before = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`)).rows[0]!.n);
    const writer = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'pg-order-writer.js'), log, String(RATE), String(LOADED_SECONDS * kinds.length + 2)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let written = '';
    writer.stdout.on('data', (d: Buffer) => (written += d.toString()));
    const writerExit = new Promise<number | null>((r) => writer.once('exit', r));
    // The CLI reaches its steady state before the first query counts.
    await sleep(2000);
    const serviceLoaded: Partial<Record<Kind, number[]>> = {};
    for (const kind of kinds) {
      if (sustainable.includes(kind)) {
        loaded[kind] = await openLoop(pool, kind, LOADED_SECONDS);
      } else {
        const t0 = performance.now();
        const ms: number[] = [];
        while (performance.now() - t0 < LOADED_SECONDS * 1000) ms.push(...(await closedLoop(admin, kind, 1)));
        serviceLoaded[kind] = ms;
      }
    }
    await writerExit;
    // The rows the CLI has yet to commit when the writer stops: how far behind the database left it.
    const landedAtStop = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`)).rows[0]!.n) - before;
    const tCatch = performance.now();
    for (let n = landedAtStop; n < Number(written); ) {
      await sleep(100);
      n = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`)).rows[0]!.n) - before;
      if (performance.now() - tCatch > 120_000) break;
    }
    cli.kill('SIGTERM');
    await cliExit;
    const landed = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`)).rows[0]!.n) - before;
    out.push(`dashboard  writer: ${Number(written).toLocaleString('en-US')} orders at ${RATE}/s; in the table: ${landed.toLocaleString('en-US')} (${landedAtStop.toLocaleString('en-US')} when the writer stopped)`);
    const counted = (await admin.query<{ rows: string; rollup: string }>(`SELECT (SELECT count(*) FROM ${TABLE}) AS rows, (SELECT sum(records) FROM ${TABLE}_rollup) AS rollup`)).rows[0]!;
    out.push(`dashboard  rows in the table: ${Number(counted.rows).toLocaleString('en-US')}, counted by the rollup: ${Number(counted.rollup).toLocaleString('en-US')}`);

    for (const kind of sustainable) idle[kind].push(await openLoop(pool, kind, IDLE_SECONDS));
    for (const kind of kinds) {
      const one = service[kind]!;
      out.push(`dashboard  ${kind.padEnd(14)} one at a time, no writer: median ${percentile(one, 50).toFixed(2)} ms, max ${percentile(one, 100).toFixed(1)} ms (10 queries)`);
      if (!sustainable.includes(kind)) {
        const busy = serviceLoaded[kind]!;
        out.push(
          `dashboard  ${kind.padEnd(14)} longer than the ${interval.toFixed(1)} ms between queries: not sustainable at ${QUERIES_PER_MINUTE}/min; ` +
            `one at a time while the sink writes ${RATE}/s: ${busy.length} queries, p50 ${percentile(busy, 50).toFixed(1)} ms, p95 ${percentile(busy, 95).toFixed(1)} ms, ratio of medians with writer / without ${(percentile(busy, 50) / percentile(one, 50)).toFixed(2)}`,
        );
        continue;
      }
      const quiet: Phase = { latencies: idle[kind].flatMap((p) => p.latencies), notIssued: idle[kind].reduce((s, p) => s + p.notIssued, 0), failed: idle[kind].reduce((s, p) => s + p.failed, 0) };
      const busy = loaded[kind]!;
      out.push(describe(`dashboard  ${kind.padEnd(14)} while the sink writes ${RATE}/s`, busy));
      out.push(describe(`dashboard  ${kind.padEnd(14)} no writer (before + after)`, quiet));
      out.push(`dashboard  ${kind.padEnd(14)} p95 ratio with writer / without: ${(percentile(busy.latencies, 95) / percentile(quiet.latencies, 95)).toFixed(2)}`);
    }

    // What the index buys: the same queries without it, one at a time (an open loop would only queue up).
    await admin.query(`DROP INDEX ${columnIndexName(TABLE, 'symbol')}`);
    await admin.query(`ANALYZE ${TABLE}`);
    for (const kind of kinds) {
      const ms = await closedLoop(admin, kind, 10);
      out.push(`dashboard  ${kind.padEnd(14)} without index=symbol, no writer, one at a time: median ${percentile(ms, 50).toFixed(1)} ms, max ${percentile(ms, 100).toFixed(1)} ms (10 queries)`);
    }
  } finally {
    await pool.end();
    await admin.end();
  }
  return out;
}
