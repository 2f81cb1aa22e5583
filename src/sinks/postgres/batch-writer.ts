/*
 * One commit: a batch of rows and the input offsets they bring the engine to,
 * in ONE transaction, so the database never holds rows without the offsets
 * that cover them (or the reverse).
 *
 * The engine has already dropped the copies it saw, so a batch is first
 * copied straight into the table, in the table's layout (rows.ts), behind a
 * savepoint. COPY has no ON CONFLICT: should the table hold one of the
 * batch's keys already (another engine wrote it) or should the database
 * refuse a row, the savepoint is rolled back and the batch takes the staging
 * path: copied into a session-local staging table and moved with INSERT …
 * SELECT … ON CONFLICT DO NOTHING, the mapped columns cut out by the
 * database. There a row the database rejects (a value its column cannot
 * take, a string jsonb refuses) fails its piece, which is rolled back to a
 * savepoint and split in halves until the row is alone, and that row is
 * handed back with the database's message instead of failing the engine. A
 * batch without direct rows (a value the encoder left to the database), and
 * every batch with `rollup=` (which sums what the insert RETURNs), takes the
 * staging path at once.
 *
 * Two commits may be open at once, on two connections (sink.ts): batch N+1
 * is copied and inserted while N's transaction is still under way. Each
 * transaction first takes an advisory lock named by its consumer and
 * generation; N+1, its rows in, takes N's too, which waits inside the
 * database until N's transaction has ended (a wait the database's deadlock
 * detector sees: should N wait for N+1 on a row with the same unique key,
 * one of them is aborted and retried, instead of both waiting for ever).
 * Then N+1 moves the offsets row only if it holds N's generation: if N
 * rolled back, N+1 rolls back too and is tried again once N has landed. So
 * the offsets, and the rows with them, land in order, each exactly once.
 *
 * With `rollup=`, the insert also keeps the rows it inserted, and their
 * totals go into the rollup table (rollup.ts) after the previous commit's
 * lock, next to the offsets.
 */
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { MappedColumn, PostgresSinkConfig } from '../../config/postgres-sink.js';
import type { RollupSql } from './rollup.js';
import type { RowBatch } from './rows.js';
import { OFFSETS_TABLE, quote } from './schema.js';

export const STAGING = 'ordertail_staging';
export const STAGING_COLUMNS = '(key_hi integer, key_lo integer, event_ms double precision, record text)';

export interface RejectedRow {
  /** Row index in the batch. */
  readonly row: number;
  /** The database's message, with its SQLSTATE. */
  readonly message: string;
}

export interface CommitResult {
  readonly inserted: number;
  /** Copied straight into the table (else through the staging table). */
  readonly direct: boolean;
  /** Rows the unique key already held (copies). */
  readonly conflicts: number;
  readonly rejected: RejectedRow[];
}

/** The offsets row did not hold the previous commit's generation: that commit has not landed (yet). */
export const BEHIND = 'behind';

/** Held for the whole transaction of commit `generation` of a consumer; the next commit waits on it. */
const LOCK_SQL = 'SELECT pg_advisory_xact_lock(hashtext($1), $2)';
const lockKey = (generation: number): number => generation % 0x7fffffff;

/** SQLSTATE classes that blame a row's data, not the connection or the server. */
const ROW_ERROR_CLASSES = new Set(['22', '23']);

export function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && ROW_ERROR_CLASSES.has(code.slice(0, 2));
}

function columnExpression(c: MappedColumn): string {
  const field = `'${c.field.replace(/'/g, "''")}'`;
  if (c.type === 'jsonb') return `r -> ${field}`;
  if (c.type === 'text') return `r ->> ${field}`;
  return `(r ->> ${field})::${c.type}`;
}

export class BatchWriter {
  /** Staging table → records table (bench/postgres-sink.ts runs it from psql too). */
  readonly insertSql: string;
  /** The batch's direct rows → records table. */
  readonly copySql: string;
  private readonly offsetsSql: string;
  private readonly followOffsetsSql: string;

  constructor(
    config: PostgresSinkConfig,
    qualified: string,
    private readonly rollup?: RollupSql,
  ) {
    const mapped = config.columns.map((c) => quote(c.name));
    const exprs = config.columns.map(columnExpression);
    this.insertSql =
      `INSERT INTO ${qualified} (event_time, key_hash, ${mapped.map((m) => `${m}, `).join('')}record) ` +
      `SELECT timestamptz 'epoch' + event_ms * interval '1 millisecond', ` +
      `CASE WHEN key_hi IS NULL THEN NULL ELSE (key_hi::bigint << 32) | (key_lo::bigint & 4294967295) END, ` +
      `${exprs.map((e) => `${e}, `).join('')}r ` +
      // OFFSET 0 keeps the subquery from being flattened, which would parse the JSON once per mapped column.
      `FROM (SELECT key_hi, key_lo, event_ms, record::jsonb AS r FROM ${STAGING} OFFSET 0) s ` +
      `ON CONFLICT (event_time, key_hash) DO NOTHING`;
    if (rollup) this.insertSql = rollup.capture(this.insertSql);
    this.copySql = `COPY ${qualified} (event_time, key_hash, ${mapped.map((m) => `${m}, `).join('')}record) FROM STDIN`;
    this.offsetsSql =
      `INSERT INTO ${quote(config.schema)}.${OFFSETS_TABLE} (consumer, generation, files) VALUES ($1, $2, $3) ` +
      `ON CONFLICT (consumer) DO UPDATE SET generation = EXCLUDED.generation, files = EXCLUDED.files, committed_at = now()`;
    this.followOffsetsSql =
      `UPDATE ${quote(config.schema)}.${OFFSETS_TABLE} SET generation = $2, files = $3, committed_at = now() ` +
      `WHERE consumer = $1 AND generation = $2 - 1`;
  }

  /**
   * Rows [0, batch.rows) and the offsets, committed together; throws (after
   * ROLLBACK where the connection still allows it) on anything but a bad row.
   * `order`: commits may overlap (see above). `order.previous` resolves once
   * the commit before this one, still under way, holds its advisory lock;
   * this one then waits for that transaction's end and commits only if the
   * offsets row holds generation - 1, else it rolls back and returns BEHIND.
   * `order.started` is called once this transaction holds its own lock.
   */
  async commit(
    client: pg.Client,
    batch: RowBatch,
    consumer: string,
    generation: number,
    files: unknown,
    order?: { previous: Promise<void> | undefined; started: () => void },
  ): Promise<CommitResult | typeof BEHIND> {
    await client.query('BEGIN');
    try {
      if (order) {
        await client.query(LOCK_SQL, [consumer, lockKey(generation)]);
        order.started();
      }
      const result = { inserted: 0, rejected: [] as RejectedRow[] };
      const direct = batch.rows > 0 && !this.rollup && (await this.copyDirect(client, batch));
      if (direct) {
        result.inserted = batch.rows;
      } else if (batch.rows > 0) {
        await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGING} ${STAGING_COLUMNS} ON COMMIT DELETE ROWS`);
        if (this.rollup) await client.query(this.rollup.stagingSql);
        batch.stage();
        await this.insertPiece(client, batch, 0, batch.rows, result);
      }
      const filesJson = JSON.stringify(files);
      if (order?.previous) {
        await order.previous;
        await client.query(LOCK_SQL, [consumer, lockKey(generation - 1)]);
        if ((await client.query(this.followOffsetsSql, [consumer, generation, filesJson])).rowCount !== 1) {
          await client.query('ROLLBACK');
          return BEHIND;
        }
      } else {
        await client.query(this.offsetsSql, [consumer, generation, filesJson]);
      }
      if (this.rollup && result.inserted > 0) await client.query(this.rollup.upsertSql);
      await client.query('COMMIT');
      return { inserted: result.inserted, direct, conflicts: batch.rows - result.rejected.length - result.inserted, rejected: result.rejected };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** The batch copied straight into the table; false (and nothing written) when it must take the staging path. */
  private async copyDirect(client: pg.Client, batch: RowBatch): Promise<boolean> {
    const text = batch.directText();
    if (!text) return false;
    // A copy already in the table (23505) or a row the database refuses: the staging path sorts them out.
    const refused = await withSavepoint(client, 'direct', async () => {
      const copy = client.query(copyFrom(this.copySql));
      copy.end(text);
      await finished(copy);
    });
    return refused === undefined;
  }

  private async insertPiece(client: pg.Client, batch: RowBatch, from: number, to: number, result: { inserted: number; rejected: RejectedRow[] }): Promise<void> {
    const refused = await withSavepoint(client, 'piece', async () => {
      const copy = client.query(copyFrom(`COPY ${STAGING} FROM STDIN`));
      copy.end(batch.slice(from, to));
      await finished(copy);
      const inserted = await client.query<{ records: string }>(this.insertSql);
      // A piece of a split batch: the next piece needs the staging table empty (a whole batch is emptied by its COMMIT).
      if (to - from < batch.rows) await client.query(`TRUNCATE ${STAGING}`);
      result.inserted += this.rollup ? this.rollup.insertedBy(inserted) : (inserted.rowCount ?? 0);
    });
    if (refused === undefined) return;
    if (to - from === 1) {
      result.rejected.push({ row: from, message: `${refused.message} (SQLSTATE ${refused.code})` });
      return;
    }
    const mid = from + Math.floor((to - from) / 2);
    await this.insertPiece(client, batch, from, mid, result);
    await this.insertPiece(client, batch, mid, to, result);
  }
}

/**
 * `work` inside a savepoint: kept when it succeeds (undefined), undone when the
 * database refuses a row (that error returned), so the transaction goes on
 * either way; any other error is thrown with the transaction left to the caller.
 */
async function withSavepoint(client: pg.Client, name: string, work: () => Promise<void>): Promise<{ code?: string; message: string } | undefined> {
  await client.query(`SAVEPOINT ${name}`);
  try {
    await work();
  } catch (err) {
    if (!isRowError(err)) throw err;
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
    await client.query(`RELEASE SAVEPOINT ${name}`);
    return err as { code?: string; message: string };
  }
  await client.query(`RELEASE SAVEPOINT ${name}`);
  return undefined;
}

/** The offsets the database holds for `consumer`, if any. */
export async function readOffsets(client: pg.Client, schema: string, consumer: string): Promise<{ generation: number; files: unknown } | undefined> {
  const { rows } = await client.query<{ generation: string; files: unknown }>(`SELECT generation, files FROM ${quote(schema)}.${OFFSETS_TABLE} WHERE consumer = $1`, [consumer]);
  const row = rows[0];
  return row ? { generation: Number(row.generation), files: row.files } : undefined;
}
