/*
 * The sink's tables: created when missing, checked when present. The records
 * table holds each record as jsonb plus the mapped columns; a unique index on
 * (key_hash, event_time) is what ON CONFLICT DO NOTHING matches, so a copy
 * written by another engine (or replayed after a crash) is not a second row.
 * event_time is in the key because a TimescaleDB hypertable only allows
 * unique indexes that contain its time column; it also matches the engine's
 * rule that two copies with the same event time are always duplicates.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { MappedColumn, PostgresSinkConfig } from '../../config/postgres-sink.js';
import { SinkTableError } from './errors.js';

export const OFFSETS_TABLE = 'ordertail_offsets';

export interface TableLayout {
  /** Quoted schema.table. */
  readonly qualified: string;
  readonly hypertable: boolean;
}

export const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** information_schema's data_type for each type a column may be declared with. */
export const DATA_TYPE: Readonly<Record<string, string>> = {
  text: 'text',
  numeric: 'numeric',
  bigint: 'bigint',
  integer: 'integer',
  'double precision': 'double precision',
  boolean: 'boolean',
  timestamptz: 'timestamp with time zone',
  jsonb: 'jsonb',
};

function fixedColumns(): MappedColumn[] {
  return [
    { name: 'event_time', field: '', type: 'timestamptz' },
    { name: 'key_hash', field: '', type: 'bigint' },
    { name: 'record', field: '', type: 'jsonb' },
  ];
}

/**
 * Create the records table (hypertable or BRIN), its unique index and the
 * offsets table when missing; check an existing one. Creation is one
 * transaction under an advisory lock: an engine killed half-way leaves no
 * table without its unique index (which the next start would refuse), and a
 * second engine starting at the same moment waits, then finds the table whole.
 */
export async function ensureTables(client: pg.Client, config: PostgresSinkConfig): Promise<TableLayout> {
  const qualified = `${quote(config.schema)}.${quote(config.table)}`;
  const found = await underSchemaLock(client, async () => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(config.schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quote(config.schema)}.${OFFSETS_TABLE} (
         consumer text PRIMARY KEY,
         generation bigint NOT NULL,
         files jsonb NOT NULL,
         committed_at timestamptz NOT NULL DEFAULT now())`,
    );
    const existing = await columnsOf(client, config.schema, config.table);
    return existing.size > 0 ? existing : createRecordsTable(client, config, qualified);
  });
  if (!(found instanceof Map)) return found;
  checkColumns(found, config);
  await checkUniqueIndex(client, config);
  const hypertable = await isHypertable(client, config);
  // The table may be in use (dashboards, another engine): build without blocking its writes.
  // TimescaleDB refuses CONCURRENTLY on a hypertable; CONCURRENTLY cannot run in a transaction.
  await ensureColumnIndexes(client, config, qualified, !hypertable);
  return { qualified, hypertable };
}

async function createRecordsTable(client: pg.Client, config: PostgresSinkConfig, qualified: string): Promise<TableLayout> {
  const mapped = config.columns.map((c) => `${quote(c.name)} ${c.type}`);
  const table = `${config.schema}.${config.table}`;
  await createRelation(table, 'event_time', () =>
    client.query(
      `CREATE TABLE ${qualified} (
         event_time timestamptz NOT NULL,
         key_hash bigint,
         ${mapped.map((m) => `${m},`).join('\n         ')}
         record jsonb NOT NULL)`,
    ),
  );
  // NULL key_hash (records without the dedup key) never conflicts: those pass, as in the engine.
  // Time first: rows arrive in roughly increasing event time, so inserts land at the index's right edge.
  // No IF NOT EXISTS: a relation of that name elsewhere in the schema must be an error, not a table without its key.
  await createRelation(table, 'key_hash', () => client.query(`CREATE UNIQUE INDEX ${quote(`${config.table}_dedup`)} ON ${qualified} (event_time, key_hash)`));
  let hypertable = false;
  if (config.timescale === 'auto' && (await hasTimescale(client))) {
    await client.query(`SELECT create_hypertable($1::regclass, 'event_time', if_not_exists => TRUE, migrate_data => TRUE)`, [`${config.schema}.${config.table}`]);
    hypertable = true;
  } else {
    // Rows arrive roughly in event-time order: a BRIN index is tiny and fits time-range scans.
    await client.query(`CREATE INDEX IF NOT EXISTS ${quote(`${config.table}_event_time_brin`)} ON ${qualified} USING brin (event_time)`);
  }
  await ensureColumnIndexes(client, config, qualified, false);
  return { qualified, hypertable };
}

/**
 * How long a start waits for another session's hold on the creation lock
 * before saying so. Creating the tables takes milliseconds; a longer hold is a
 * session stopped mid-way (a client frozen, a network cut the server has not
 * noticed yet), and waiting on it in silence would look like a hung start.
 */
export const CREATION_LOCK_TIMEOUT_MS = 5_000;

/**
 * Run `work` in one transaction holding the sinks' advisory lock (one key for
 * every engine on the database: table creation is rare and quick). On any
 * error the transaction is rolled back and the error passed on; a lock held
 * elsewhere past CREATION_LOCK_TIMEOUT_MS is an error of code 55P03 saying so,
 * which the sink retries like a database it cannot reach (with a warning).
 */
export async function underSchemaLock<T>(client: pg.Client, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${CREATION_LOCK_TIMEOUT_MS}`);
    try {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('ordertail: sink tables'))`);
    } catch (err) {
      if ((err as { code?: unknown }).code !== '55P03') throw err;
      throw Object.assign(new Error(`another session has held the lock for creating the sink's tables for over ${CREATION_LOCK_TIMEOUT_MS / 1000} s (an engine stopped while creating them?)`, { cause: err }), { code: '55P03' });
    }
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // The connection may be gone (the error is then a retryable one, passed on as it is).
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * A CREATE of the sink's own table or index that finds the name taken in the
 * schema (42P07: a table of no columns, another table's index): a
 * SinkTableError saying so, for the operator to rename one of them.
 */
export async function createRelation(table: string, column: string, create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if ((err as { code?: unknown }).code !== '42P07') throw err;
    throw new SinkTableError(`cannot create table ${table} and its indexes: ${(err as Error).message} in its schema; rename that relation, or point the sink at another table`, column);
  }
}

/** PostgreSQL cuts names at 63 bytes: a long one keeps its start and gets a hash of the whole, so two never collide. */
export function columnIndexName(table: string, column: string): string {
  const name = `${table}_${column}_time`;
  return name.length <= 63 ? name : `${name.slice(0, 54)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** `index=`: a btree on (column, event_time) for each, so "one symbol, newest first" is an index range scan. */
async function ensureColumnIndexes(client: pg.Client, config: PostgresSinkConfig, qualified: string, concurrently: boolean): Promise<void> {
  for (const column of config.indexes) {
    const name = columnIndexName(config.table, column);
    // An index of that name is left as it is, even one a concurrent build left
    // invalid: it may be another engine's build still under way.
    await client.query(`CREATE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF NOT EXISTS ${quote(name)} ON ${qualified} (${quote(column)}, event_time)`);
  }
}

/** information_schema's view of a table's columns; empty when the table does not exist. */
export async function columnsOf(client: pg.Client, schema: string, table: string): Promise<Map<string, { type: string; nullable: boolean }>> {
  const { rows } = await client.query<{ column_name: string; data_type: string; is_nullable: string }>(
    'SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
    [schema, table],
  );
  return new Map(rows.map((r) => [r.column_name, { type: r.data_type, nullable: r.is_nullable === 'YES' }]));
}

function checkColumns(existing: Map<string, { type: string; nullable: boolean }>, config: PostgresSinkConfig): void {
  const table = `${config.schema}.${config.table}`;
  for (const column of [...fixedColumns(), ...config.columns]) {
    const found = existing.get(column.name);
    const wanted = DATA_TYPE[column.type]!;
    if (!found) throw new SinkTableError(`table ${table} exists but has no column '${column.name}' (${wanted}); add it, or point the sink at another table`, column.name);
    if (found.type !== wanted) throw new SinkTableError(`table ${table}: column '${column.name}' is ${found.type}, the sink writes ${wanted} into it`, column.name);
  }
  // Columns the sink does not fill must be nullable or have a default, or every insert fails.
  const ours = new Set([...fixedColumns(), ...config.columns].map((c) => c.name));
  for (const [name, info] of existing) {
    if (!ours.has(name) && !info.nullable) {
      throw new SinkTableError(`table ${table}: column '${name}' is NOT NULL but the sink does not fill it; map it (columns=…) or make it nullable`, name);
    }
  }
}

async function checkUniqueIndex(client: pg.Client, config: PostgresSinkConfig): Promise<void> {
  if (!(await hasUniqueIndex(client, config.schema, config.table, ['event_time', 'key_hash']))) {
    throw new SinkTableError(
      `table ${config.schema}.${config.table} has no unique index on (key_hash, event_time): copies could not be told apart (CREATE UNIQUE INDEX ON ${config.schema}.${config.table} (key_hash, event_time))`,
      'key_hash',
    );
  }
}

/** A unique index (or constraint) on exactly `columns`, in any order, without a predicate: what ON CONFLICT (columns) needs. */
export async function hasUniqueIndex(client: pg.Client, schema: string, table: string, columns: readonly string[]): Promise<boolean> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL
        AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C") FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = $3::text[]
        AND i.indnatts = $4`,
    [schema, table, [...columns].sort(), columns.length],
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

async function hasTimescale(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ installed: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS installed`);
  return rows[0]?.installed === true;
}

async function isHypertable(client: pg.Client, config: PostgresSinkConfig): Promise<boolean> {
  if (!(await hasTimescale(client))) return false;
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 AND hypertable_name = $2', [config.schema, config.table]);
  return Number(rows[0]?.n ?? 0) > 0;
}
