/**
 * The rollup table (`rollup=`) against what it must hold: totals per symbol
 * and bucket from the records table, or from the orders a test wrote.
 * Amounts come back as exact decimal text, so sums compare exactly.
 */
import type pg from 'pg';
import type { TestPostgres } from './postgres.js';

/** Where a query runs: a TestPostgres (one query, one connection) or a client inside a transaction (inTransaction). */
interface Db {
  query<R extends pg.QueryResultRow>(sql: string): Promise<R[]>;
}

const inTransaction = (client: pg.Client): Db => ({ query: async <R extends pg.QueryResultRow>(sql: string) => (await client.query<R>(sql)).rows });

export interface BucketTotals {
  records: number;
  qty: string;
  notional: string;
  low: string | null;
  high: string | null;
  lastPrice: string | null;
  lastTime: number | null;
}

/** "SYMBOL@bucket start ms" → totals. */
export type RollupTotals = Map<string, BucketTotals>;

interface TotalsRow {
  symbol: string;
  bucket_ms: number;
  records: string;
  qty: string;
  notional: string;
  low: string | null;
  high: string | null;
  last_price: string | null;
  last_time: number | null;
}

function toMap(rows: TotalsRow[]): RollupTotals {
  return new Map(
    rows.map((r) => [
      `${r.symbol}@${r.bucket_ms}`,
      { records: Number(r.records), qty: r.qty, notional: r.notional, low: r.low, high: r.high, lastPrice: r.last_price, lastTime: r.last_time },
    ]),
  );
}

/** What `table`_rollup holds. Amounts are trimmed of trailing zeros, so equal numbers are equal text. */
export async function rollupTotals(db: Db, table: string): Promise<RollupTotals> {
  const rows = await db.query<TotalsRow>(
    `SELECT symbol, (extract(epoch FROM bucket) * 1000)::float8 AS bucket_ms, records::text AS records, trim_scale(qty)::text AS qty,
            trim_scale(notional)::text AS notional, trim_scale(low)::text AS low, trim_scale(high)::text AS high,
            trim_scale(last_price)::text AS last_price, (extract(epoch FROM last_time) * 1000)::float8 AS last_time
       FROM ${table}_rollup`,
  );
  return toMap(rows);
}

/**
 * The same totals computed by one GROUP BY over `source`, a query with
 * columns symbol, event_time, price, qty: the records table, or the orders a
 * test wrote, loaded as they are.
 */
export async function totalsOf(db: Db, source: string, bucketMs: number): Promise<RollupTotals> {
  const rows = await db.query<TotalsRow>(
    `SELECT symbol, bucket_ms::float8 AS bucket_ms, records::text AS records, trim_scale(qty)::text AS qty, trim_scale(notional)::text AS notional,
            trim_scale(low)::text AS low, trim_scale(high)::text AS high, trim_scale(last_price)::text AS last_price, last_time
       FROM (SELECT symbol, floor(extract(epoch FROM event_time) * 1000 / ${bucketMs}) * ${bucketMs} AS bucket_ms, count(*) AS records,
                    coalesce(sum(qty::numeric), 0) AS qty, coalesce(sum(price::numeric * qty::numeric), 0) AS notional,
                    min(price::numeric) AS low, max(price::numeric) AS high,
                    (array_agg(price::numeric ORDER BY event_time DESC, price DESC) FILTER (WHERE price IS NOT NULL))[1] AS last_price,
                    (extract(epoch FROM max(event_time) FILTER (WHERE price IS NOT NULL)) * 1000)::float8 AS last_time
               FROM (${source}) src WHERE symbol IS NOT NULL GROUP BY 1, 2) s`,
  );
  return toMap(rows);
}

/** Per symbol: records and sum(qty) from the rollup and from the records table, which must be equal. */
export async function perSymbol(pgsql: TestPostgres, table = 'orders'): Promise<{ rollup: Map<string, string>; rows: Map<string, string> }> {
  const q = async (sql: string): Promise<Map<string, string>> =>
    new Map((await pgsql.query<{ symbol: string; v: string }>(sql)).map((r) => [r.symbol, r.v]));
  return {
    rollup: await q(`SELECT symbol, sum(records)::text || ' / ' || trim_scale(sum(qty))::text AS v FROM ${table}_rollup GROUP BY 1`),
    rows: await q(`SELECT symbol, count(*)::text || ' / ' || trim_scale(coalesce(sum(qty::numeric), 0))::text AS v FROM ${table} WHERE symbol IS NOT NULL GROUP BY 1`),
  };
}

/** Entries that differ (at most `limit`), as [key, want, got]: empty when the two agree. */
export function diffTotals(want: RollupTotals, got: RollupTotals, limit = 5): [string, BucketTotals | undefined, BucketTotals | undefined][] {
  const out: [string, BucketTotals | undefined, BucketTotals | undefined][] = [];
  for (const key of new Set([...want.keys(), ...got.keys()])) {
    if (JSON.stringify(want.get(key)) !== JSON.stringify(got.get(key))) out.push([key, want.get(key), got.get(key)]);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Where the rollup and the rows table disagree, both read in one snapshot
 * (what a dashboard reading both at any moment would see): empty when they agree.
 */
export async function rollupDrift(pgsql: TestPostgres, table = 'orders', bucketMs = 1000): Promise<[string, BucketTotals | undefined, BucketTotals | undefined][]> {
  const client = await pgsql.client();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const fromRows = await totalsOf(inTransaction(client), `SELECT symbol, event_time, price, qty FROM ${table}`, bucketMs);
    const drift = diffTotals(fromRows, await rollupTotals(inTransaction(client), table));
    await client.query('COMMIT');
    return drift;
  } finally {
    await client.end();
  }
}

/** Hold an EXCLUSIVE lock on TABLE_rollup (readers pass, the sink's upsert waits) until release(). */
export async function holdRollup(pgsql: TestPostgres, table = 'orders'): Promise<{ waiters: () => Promise<number>; release: () => Promise<void> }> {
  const client = await pgsql.client();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table}_rollup IN EXCLUSIVE MODE`);
  return {
    waiters: async () =>
      Number((await pgsql.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE relation = '${table}_rollup'::regclass AND NOT granted`))[0]!.n),
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Run `writers` (engines writing TABLE, whose rollup table exists) and read
 * the rollup and the rows table in one snapshot all along: first with the
 * writers held at their rollup upsert by a lock (rows committed apart from
 * their totals would show then), then every few milliseconds until they
 * finish. Returns the snapshots where the two disagreed (empty when none did).
 */
export async function watchRollup(pgsql: TestPostgres, writers: () => Promise<unknown>, table = 'orders'): Promise<unknown[]> {
  const drifts: unknown[] = [];
  const held = await holdRollup(pgsql, table);
  let running = true;
  const done = writers().finally(() => (running = false));
  try {
    const t0 = Date.now();
    while ((await held.waiters()) === 0 && Date.now() - t0 < 20_000) await sleep(5);
    // Another writer may get there later, or wait behind the first one's rows (the same keys) instead.
    await sleep(200);
    if ((await held.waiters()) === 0) drifts.push('no writer reached its rollup upsert while the rollup table was locked');
    const drift = await rollupDrift(pgsql, table);
    if (drift.length > 0) drifts.push({ whileHeld: drift });
  } finally {
    await held.release();
  }
  while (running) {
    const drift = await rollupDrift(pgsql, table);
    if (drift.length > 0) drifts.push(drift);
    await sleep(5);
  }
  await done;
  return drifts;
}
