/*
 * `rollup=1s`: the sink keeps a pre-aggregated table beside the records
 * (sinks/postgres/rollup.ts), one row per symbol and bucket of this width,
 * so a dashboard reads a few hundred rows instead of every order of its
 * window. It aggregates the mapped columns `symbol`, `price` and `qty`,
 * whatever record fields fill them.
 */
import { ConfigError } from './errors.js';
import type { MappedColumn } from './postgres-columns.js';

export interface RollupConfig {
  /** Bucket width; buckets start at multiples of it from the Unix epoch. */
  readonly bucketMs: number;
  /** The width as given (`1s`), for messages. */
  readonly bucket: string;
}

/** Columns the rollup reads, by their name in the table. */
export const ROLLUP_COLUMNS = ['symbol', 'price', 'qty'] as const;
/** price and qty are summed and multiplied: a number type. */
const NUMBER_TYPES = new Set(['numeric', 'double precision', 'bigint', 'integer']);
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DAY_MS = 86_400_000;
export const ROLLUP_SUFFIX = '_rollup';

export function parseRollup(value: string, table: string, columns: readonly MappedColumn[], key: string): RollupConfig {
  const match = /^([1-9][0-9]*)(ms|s|m|h)$/.exec(value);
  const bucketMs = match ? Number(match[1]) * UNIT_MS[match[2]!]! : Number.NaN;
  if (!(bucketMs >= 1 && bucketMs <= DAY_MS)) {
    throw new ConfigError(`${key}: rollup must be a bucket width from 1ms to 24h such as 1s, 10s, 1m or 1h, got '${value}'`, key);
  }
  for (const name of ROLLUP_COLUMNS) {
    const column = columns.find((c) => c.name === name);
    if (!column) {
      throw new ConfigError(
        `${key}: rollup needs a mapped column '${name}' (columns=…,symbol,price:numeric,qty:numeric; price=px:numeric maps another field); mapped: ${columns.map((c) => c.name).join(', ') || 'none'}`,
        key,
      );
    }
    if (name !== 'symbol' && !NUMBER_TYPES.has(column.type)) {
      throw new ConfigError(`${key}: rollup sums column '${name}', which is mapped as ${column.type}; map it as numeric (${name}:numeric)`, key);
    }
  }
  // PostgreSQL would cut a longer name, and the sink would not find its table again.
  if (table.length + ROLLUP_SUFFIX.length > 63) throw new ConfigError(`${key}: rollup's table ${table}${ROLLUP_SUFFIX} would be longer than 63 characters; use a shorter table name`, key);
  return { bucketMs, bucket: value };
}
