/**
 * Where the PostgreSQL sink's `rollup=1s` spends its time, per batch of
 * BENCH_PG_ROLLUP_BATCH rows (default 10,000, the sink's default batch), on
 * the throwaway PostgreSQL cluster of the tests: the same staging rows
 * (bench/pg-orders.ts orders, the sink's RowEncoder) into three tables, one
 * transaction per batch each, the order of the three reversed every batch:
 *
 *   plain      the sink's insert without the rollup
 *   returning  the same insert with RETURNING read by a CTE (the rollup's first step alone)
 *   rollup     the sink's insert with the rollup (RETURNING, totals summed per symbol
 *              and bucket into the session's staging table), then its upsert
 *
 * The upsert is what waits for the previous commit's transaction with two
 * connections; the insert runs while that one is still under way.
 *
 *   npm run build:bench && node dist/bench/postgres-rollup-cost.js   (BENCH_PG_ROLLUP_BATCHES, default 30)
 */
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { parsePostgresSink } from '../src/config/postgres-sink.js';
import { BatchWriter, STAGING, STAGING_COLUMNS } from '../src/sinks/postgres/batch-writer.js';
import { RollupSql } from '../src/sinks/postgres/rollup.js';
import { RowBatch, RowEncoder } from '../src/sinks/postgres/rows.js';
import { ensureTables } from '../src/sinks/postgres/schema.js';
import { TestPostgres } from '../test/helpers/postgres.js';
import { orderJson } from './pg-orders.js';

const BATCH_ROWS = Number(process.env.BENCH_PG_ROLLUP_BATCH ?? 10_000);
const BATCHES = Number(process.env.BENCH_PG_ROLLUP_BATCHES ?? 30);
const COLUMNS = 'columns=id,symbol,side,price:numeric,qty:numeric';

interface Contender {
  readonly client: pg.Client;
  readonly insertSql: string;
  readonly rollup: RollupSql | undefined;
  readonly ms: { copy: number[]; insert: number[]; upsert: number[] };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function contender(server: TestPostgres, table: string, mode: 'plain' | 'returning' | 'rollup'): Promise<Contender> {
  const config = parsePostgresSink(server.url(`table=${table}&${COLUMNS}&rollup=1s`));
  const client = await server.client();
  const layout = await ensureTables(client, config);
  const rollup = new RollupSql(config, config.rollup!);
  await rollup.ensureTable(client);
  await client.query(rollup.stagingSql);
  const plain = new BatchWriter(config, layout.qualified).insertSql;
  const insertSql = mode === 'plain' ? plain : mode === 'returning' ? `WITH inserted AS (${plain} RETURNING symbol, event_time, price, qty) SELECT count(*) FROM inserted` : rollup.capture(plain);
  return { client, insertSql, rollup: mode === 'rollup' ? rollup : undefined, ms: { copy: [], insert: [], upsert: [] } };
}

async function timed(ms: number[], work: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await work();
  ms.push(performance.now() - t0);
}

async function writeBatch(c: Contender, batch: RowBatch): Promise<void> {
  await c.client.query('BEGIN');
  await c.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGING} ${STAGING_COLUMNS} ON COMMIT DELETE ROWS`);
  await timed(c.ms.copy, async () => {
    const copy = c.client.query(copyFrom(`COPY ${STAGING} FROM STDIN`));
    copy.end(batch.slice(0, batch.rows));
    await finished(copy);
  });
  await timed(c.ms.insert, () => c.client.query(c.insertSql));
  const rollup = c.rollup;
  if (rollup) await timed(c.ms.upsert, () => c.client.query(rollup.upsertSql));
  await c.client.query('COMMIT');
}

async function main(): Promise<void> {
  const server = await TestPostgres.start();
  try {
    const contenders = { plain: await contender(server, 'plain', 'plain'), returning: await contender(server, 'returning', 'returning'), rollup: await contender(server, 'rollup', 'rollup') };
    const names = Object.keys(contenders) as (keyof typeof contenders)[];
    const encoder = new RowEncoder({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20 });
    const base = Date.parse('2026-12-03T00:00:00Z');
    for (let b = 0; b < BATCHES; b++) {
      const lines: string[] = [];
      // 20,000 orders per second of event time, as in the dashboard bench.
      for (let i = 0; i < BATCH_ROWS; i++) lines.push(orderJson(`o-${b * BATCH_ROWS + i}`, b * BATCH_ROWS + i, base + (b * BATCH_ROWS + i) / 20));
      const batch = new RowBatch();
      encoder.encode(Buffer.from(`${lines.join('\n')}\n`), batch, Date.now());
      for (const name of b % 2 === 0 ? names : [...names].reverse()) await writeBatch(contenders[name], batch);
    }
    console.log(`${BATCHES} batches of ${BATCH_ROWS} rows, medians per batch:`);
    for (const name of names) {
      const { copy, insert, upsert } = contenders[name].ms;
      const total = median(copy.map((c, i) => c + insert[i]! + (upsert[i] ?? 0)));
      console.log(`${name.padEnd(9)} COPY ${median(copy).toFixed(1)} ms, insert ${median(insert).toFixed(1)} ms${upsert.length ? `, upsert ${median(upsert).toFixed(1)} ms` : ''}; together ${total.toFixed(1)} ms`);
    }
    for (const c of Object.values(contenders)) await c.client.end();
  } finally {
    server.destroy();
  }
}

await main();
