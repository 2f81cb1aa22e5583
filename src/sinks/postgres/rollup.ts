/*
 * `rollup=WIDTH`: TABLE_rollup holds, per symbol and bucket, the totals of
 * the rows the sink inserted: records, sum(qty), sum(price * qty), low,
 * high, and the last price with its event time. A dashboard's "last 5
 * minutes of one symbol" then reads 300 rows of 1 s buckets instead of
 * every order of the window.
 *
 * Exactly once, like the rows: the insert into the records table RETURNs
 * the rows it actually inserted (a copy ON CONFLICT DO NOTHING skipped is
 * not returned), the same statement sums them per symbol and bucket into a
 * session-local table, and the batch's transaction adds those totals to the
 * rollup after writing its offsets, before COMMIT. A rolled-back batch (a
 * crash, an outage, a piece split off for a bad row) takes its totals with
 * it.
 *
 * The totals are added only once the previous commit's transaction has
 * ended (batch-writer.ts): every batch touches the newest bucket of every
 * busy symbol, so two overlapping transactions would otherwise each hold a
 * rollup row the other wants. Rows are upserted in (symbol, bucket) order,
 * so two engines writing to one table wait for each other there but never
 * deadlock on it.
 */
import type pg from 'pg';
import type { MappedColumn, PostgresSinkConfig } from '../../config/postgres-sink.js';
import { ROLLUP_SUFFIX, type RollupConfig } from '../../config/rollup-option.js';
import { SinkTableError } from './errors.js';
import { columnsOf, createRelation, underSchemaLock, DATA_TYPE, hasUniqueIndex, quote } from './schema.js';

export const ROLLUP_STAGING = 'ordertail_rollup_staging';

/** What the rollup table's columns hold; sums are numeric whatever the mapped types, so they are exact. */
const TOTALS: readonly (readonly [name: string, type: string])[] = [
  ['bucket', 'timestamptz'],
  ['records', 'bigint'],
  ['qty', 'numeric'],
  ['notional', 'numeric'],
  ['low', 'numeric'],
  ['high', 'numeric'],
  ['last_price', 'numeric'],
  ['last_time', 'timestamptz'],
];

/** The table comment that records the bucket width, so a restart with another width is refused instead of mixing them. */
const widthComment = (width: RollupConfig): string => `ordertail rollup: bucket_ms=${width.bucketMs}`;

function mapped(config: PostgresSinkConfig, name: string): MappedColumn {
  // parseRollup made sure they are there.
  return config.columns.find((c) => c.name === name)!;
}

export function rollupTable(config: PostgresSinkConfig): string {
  return `${config.table}${ROLLUP_SUFFIX}`;
}

/** The SQL of the rollup: what the sink's insert becomes, and the upsert of a batch's totals. */
export class RollupSql {
  readonly qualified: string;
  /**
   * Session-local, emptied by each COMMIT: this transaction's totals per
   * symbol and bucket, one set per piece inserted (a batch split around a
   * bad row has several), summed by the upsert.
   */
  readonly stagingSql: string;
  readonly upsertSql: string;
  /** SQL: the start of an event_time's bucket. */
  private readonly bucketStart: string;

  constructor(
    private readonly config: PostgresSinkConfig,
    readonly width: RollupConfig,
  ) {
    this.qualified = `${quote(config.schema)}.${quote(rollupTable(config))}`;
    const symbolType = mapped(config, 'symbol').type;
    this.stagingSql =
      `CREATE TEMP TABLE IF NOT EXISTS ${ROLLUP_STAGING} (symbol ${symbolType}, bucket timestamptz, records bigint, qty numeric, notional numeric, ` +
      `low numeric, high numeric, last_price numeric, last_time timestamptz) ON COMMIT DELETE ROWS`;
    this.bucketStart = `date_bin(interval '${width.bucketMs} milliseconds', event_time, timestamptz 'epoch')`;
    // Rows without a symbol have no rollup row (they were staged only to be counted). Ties on the last event
    // time go to the higher price, so the answer does not depend on how the rows were cut into batches.
    this.upsertSql =
      `INSERT INTO ${this.qualified} AS r (symbol, bucket, records, qty, notional, low, high, last_price, last_time) ` +
      `SELECT symbol, bucket, sum(records), sum(qty), sum(notional), min(low), max(high), ` +
      `(array_agg(last_price ORDER BY last_time DESC, last_price DESC) FILTER (WHERE last_price IS NOT NULL))[1], max(last_time) ` +
      `FROM ${ROLLUP_STAGING} WHERE symbol IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 ` +
      `ON CONFLICT (symbol, bucket) DO UPDATE SET records = r.records + EXCLUDED.records, qty = r.qty + EXCLUDED.qty, ` +
      `notional = r.notional + EXCLUDED.notional, low = LEAST(r.low, EXCLUDED.low), high = GREATEST(r.high, EXCLUDED.high), ` +
      `last_price = CASE WHEN r.last_time IS NULL OR (EXCLUDED.last_time, EXCLUDED.last_price) > (r.last_time, r.last_price) THEN EXCLUDED.last_price ELSE r.last_price END, ` +
      `last_time = GREATEST(r.last_time, EXCLUDED.last_time)`;
  }

  /**
   * Totals of `source` (a relation with symbol, event_time, price, qty) into
   * the staging table. Summed here, while the previous commit may still be
   * under way, so that what waits for it (the upsert) is small.
   */
  stageTotalsSql(source: string): string {
    return (
      `INSERT INTO ${ROLLUP_STAGING} SELECT symbol, ${this.bucketStart}, count(*), coalesce(sum(qty::numeric), 0), ` +
      `coalesce(sum(price::numeric * qty::numeric), 0), min(price::numeric), max(price::numeric), ` +
      `(array_agg(price::numeric ORDER BY event_time DESC, price DESC) FILTER (WHERE price IS NOT NULL))[1], ` +
      `max(event_time) FILTER (WHERE price IS NOT NULL) FROM ${source} GROUP BY 1, 2`
    );
  }

  /** The records insert (ON CONFLICT DO NOTHING) with the totals of the rows it inserted staged; see insertedBy. */
  capture(insertSql: string): string {
    return `WITH inserted AS (${insertSql} RETURNING symbol, event_time, price, qty) ${this.stageTotalsSql('inserted')} RETURNING records`;
  }

  /** Rows a `capture` statement inserted (its rowCount counts staged totals, not rows). */
  insertedBy(result: pg.QueryResult<{ records: string }>): number {
    return result.rows.reduce((n, r) => n + Number(r.records), 0);
  }

  /**
   * Create TABLE_rollup when missing, with the comment naming its bucket width
   * in the same transaction (a table without it could not have its width
   * checked); check an existing one (SinkTableError naming the column).
   * Safe from two engines at once: the second waits on the lock, then checks.
   */
  async ensureTable(client: pg.Client): Promise<void> {
    const { schema } = this.config;
    const table = rollupTable(this.config);
    const columns: (readonly [string, string])[] = [['symbol', mapped(this.config, 'symbol').type], ...TOTALS];
    await underSchemaLock(client, async () => {
      if ((await columnsOf(client, schema, table)).size > 0) return;
      await createRelation(`${schema}.${table}`, 'bucket', () =>
        client.query(
          `CREATE TABLE ${this.qualified} (${columns.map(([name, type]) => `${name} ${type}${name === 'symbol' || name === 'bucket' || name === 'records' ? ' NOT NULL' : ''}`).join(', ')}, ` +
            `PRIMARY KEY (symbol, bucket))`,
        ),
      );
      await client.query(`COMMENT ON TABLE ${this.qualified} IS '${widthComment(this.width)}'`);
    });
    await this.check(client, columns);
  }

  private async check(client: pg.Client, columns: readonly (readonly [string, string])[]): Promise<void> {
    const { schema } = this.config;
    const table = rollupTable(this.config);
    const name = `${schema}.${table}`;
    const existing = await columnsOf(client, schema, table);
    for (const [column, type] of columns) {
      const found = existing.get(column);
      const wanted = DATA_TYPE[type] ?? type;
      if (!found) throw new SinkTableError(`rollup table ${name} exists but has no column '${column}' (${wanted}); add it, or drop the table and let the sink build it`, column);
      if (found.type !== wanted) throw new SinkTableError(`rollup table ${name}: column '${column}' is ${found.type}, the sink writes ${wanted} into it`, column);
    }
    const ours = new Set(columns.map(([column]) => column));
    for (const [column, info] of existing) {
      if (!ours.has(column) && !info.nullable) throw new SinkTableError(`rollup table ${name}: column '${column}' is NOT NULL but the sink does not fill it; make it nullable`, column);
    }
    if (!(await hasUniqueIndex(client, schema, table, ['symbol', 'bucket']))) {
      throw new SinkTableError(`rollup table ${name} has no unique index on (symbol, bucket), which the sink's upsert needs (ALTER TABLE ${name} ADD PRIMARY KEY (symbol, bucket))`, 'bucket');
    }
    const { rows } = await client.query<{ comment: string | null }>(`SELECT obj_description($1::regclass, 'pg_class') AS comment`, [this.qualified]);
    const heldMs = /bucket_ms=(\d+)/.exec(rows[0]?.comment ?? '')?.[1];
    if (heldMs !== undefined && Number(heldMs) !== this.width.bucketMs) {
      throw new SinkTableError(`rollup table ${name} holds buckets of ${heldMs} ms, the sink was given rollup=${this.width.bucket}; use that width, or another table`, 'bucket');
    }
  }
}
