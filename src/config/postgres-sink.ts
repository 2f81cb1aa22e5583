/*
 * `--sink postgres://USER@HOST:PORT/DB?table=orders&…`: what the sink takes
 * from the URL. Connection parameters keep libpq's names (sslmode,
 * sslrootcert, sslcert, sslkey, connect_timeout, application_name) and go to
 * the client as they are; the rest are the sink's own. A password is never
 * accepted here: command lines are visible to every user of the machine
 * (ps, /proc), so it comes from PGPASSWORD or a pgpass file.
 */
import { ConfigError } from './errors.js';
import { COLUMN_TYPES, type ColumnType, type MappedColumn } from './postgres-columns.js';
import { parseRollup, type RollupConfig } from './rollup-option.js';

export { COLUMN_TYPES, type ColumnType, type MappedColumn } from './postgres-columns.js';

export interface PostgresSinkConfig {
  /** The URL without the sink's own parameters, for the client (libpq's parameters stay). */
  readonly connectionString: string;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly MappedColumn[];
  /** Names this engine's row in the offsets table (two engines on one table need two). */
  readonly consumer: string | undefined;
  /**
   * Connections, each with one commit under way: with 2, a batch is written
   * while the previous batch's transaction finishes (the offsets keep them in order).
   */
  readonly connections: 1 | 2;
  /** Records buffered before the sink asks for a commit. */
  readonly batchRows: number;
  /**
   * Mapped columns that get a btree index on (column, event_time): a
   * dashboard's query for one symbol over a time range (or its newest rows)
   * reads that symbol's entries only, not every row of the range.
   */
  readonly indexes: readonly string[];
  /** 'auto': a hypertable when TimescaleDB is installed, else a plain table with BRIN. */
  readonly timescale: 'auto' | 'off';
  /**
   * `rollup=1s`: per symbol and bucket totals kept in TABLE_rollup, written
   * in each batch's transaction from the rows that batch inserted.
   */
  readonly rollup: RollupConfig | undefined;
  /** For messages: the URL as given (it never holds a password). */
  readonly display: string;
}

/** Parameters libpq knows that the client honours; anything else unknown is an error. */
const LIBPQ_PARAMS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'application_name', 'options']);
const SINK_PARAMS = new Set(['table', 'columns', 'index', 'consumer', 'batch', 'connections', 'timescale', 'rollup']);
const DEFAULT_COLUMNS = 'id,symbol,side';
/** libpq's modes the client implements ('allow' it does not; 'prefer' does not fall back to plain). */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function isPostgresUrl(value: string): boolean {
  return value.startsWith('postgres://') || value.startsWith('postgresql://');
}

/** Throws ConfigError (key `sink`) naming what is wrong. */
export function parsePostgresSink(value: string, key = 'sink'): PostgresSinkConfig {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${key}: '${value}' is not a valid postgres:// URL`, key);
  }
  if (url.password !== '') {
    throw new ConfigError(`${key}: the URL holds a password; put it in PGPASSWORD or a pgpass file (a command line is readable by every user of the machine)`, key);
  }
  if (url.username === '') throw new ConfigError(`${key}: the URL names no user (postgres://USER@HOST:PORT/DB?table=NAME)`, key);
  if (url.pathname.length <= 1) throw new ConfigError(`${key}: the URL names no database (postgres://USER@HOST:PORT/DB?table=NAME)`, key);
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (!LIBPQ_PARAMS.has(name) && !SINK_PARAMS.has(name)) {
      throw new ConfigError(`${key}: unknown URL parameter '${name}' (sink: ${[...SINK_PARAMS].join(', ')}; libpq: ${[...LIBPQ_PARAMS].join(', ')})`, key);
    }
  }
  const tableParam = params.get('table');
  if (!tableParam) throw new ConfigError(`${key}: the URL needs ?table=NAME (or SCHEMA.NAME)`, key);
  const [schema, table] = tableParam.includes('.') ? tableParam.split('.', 2) as [string, string] : ['public', tableParam];
  for (const name of [schema, table]) if (!IDENTIFIER.test(name)) throw new ConfigError(`${key}: table name '${name}' must be a lower-case SQL identifier`, key);
  const columns = parseColumns(params.get('columns') ?? DEFAULT_COLUMNS, key);
  const indexes = parseIndexes(params.get('index') ?? '', columns, key);
  const batch = params.get('batch');
  const batchRows = batch === null ? 10_000 : Number(batch);
  if (!Number.isInteger(batchRows) || batchRows < 1 || batchRows > 1_000_000) throw new ConfigError(`${key}: batch must be an integer from 1 to 1000000, got '${batch}'`, key);
  const connectionsParam = params.get('connections') ?? '2';
  if (connectionsParam !== '1' && connectionsParam !== '2') throw new ConfigError(`${key}: connections must be 1 or 2, got '${connectionsParam}'`, key);
  const connections = connectionsParam === '1' ? 1 : 2;
  const timescale = params.get('timescale') ?? 'auto';
  if (timescale !== 'auto' && timescale !== 'off') throw new ConfigError(`${key}: timescale must be auto or off, got '${timescale}'`, key);
  const rollupParam = params.get('rollup');
  const rollup = rollupParam === null ? undefined : parseRollup(rollupParam, table, columns, key);
  const sslmode = params.get('sslmode');
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) throw new ConfigError(`${key}: sslmode must be one of ${SSL_MODES.join(', ')}, got '${sslmode}'`, key);
  const consumer = params.get('consumer') ?? undefined;
  if (consumer !== undefined && consumer.length === 0) throw new ConfigError(`${key}: consumer must not be empty`, key);
  const client = new URL(url.href);
  for (const name of SINK_PARAMS) client.searchParams.delete(name);
  // libpq's meaning of sslmode=require and verify-ca (the client's own default reads them as verify-full).
  client.searchParams.set('uselibpqcompat', 'true');
  return { connectionString: client.href, schema, table, columns, indexes, consumer, connections, batchRows, timescale, rollup, display: value };
}

/** `id,symbol,price:numeric,ts=time:timestamptz`: column[=field][:type]. */
function parseColumns(spec: string, key: string): MappedColumn[] {
  const columns: MappedColumn[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const [lhs, type = 'text'] = part.split(':', 2) as [string, string?];
    const [name, field = name] = lhs.split('=', 2) as [string, string?];
    if (!IDENTIFIER.test(name)) throw new ConfigError(`${key}: column '${name}' must be a lower-case SQL identifier`, key);
    if (RESERVED_COLUMNS.has(name)) throw new ConfigError(`${key}: column '${name}' is the sink's own; map the field to another name (${name}_=…)`, key);
    if (!(COLUMN_TYPES as readonly string[]).includes(type)) throw new ConfigError(`${key}: column '${name}' has type '${type}'; one of ${COLUMN_TYPES.join(', ')}`, key);
    if (columns.some((c) => c.name === name)) throw new ConfigError(`${key}: column '${name}' is mapped twice`, key);
    columns.push({ name, field, type: type as ColumnType });
  }
  return columns;
}

/** `symbol,side`: mapped columns to index with event_time; any other name is an error naming it. */
function parseIndexes(spec: string, columns: readonly MappedColumn[], key: string): string[] {
  const indexes: string[] = [];
  for (const name of spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    if (!columns.some((c) => c.name === name)) {
      throw new ConfigError(`${key}: index column '${name}' is not a mapped column (columns: ${columns.map((c) => c.name).join(', ') || 'none'})`, key);
    }
    if (!indexes.includes(name)) indexes.push(name);
  }
  return indexes;
}

/** Columns every sink table has (sinks/postgres/schema.ts). */
export const RESERVED_COLUMNS = new Set(['key_hash', 'event_time', 'record']);
