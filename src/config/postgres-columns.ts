/*
 * The PostgreSQL sink's mapped columns (`columns=id,symbol,price:numeric`):
 * a table column filled from a record's top-level field, cast to its type.
 * Apart from the URL parser so the options built on columns (rollup-option.ts)
 * need not import it.
 */

/** SQL types a mapped column may have (cast from the record's field text). */
export const COLUMN_TYPES = ['text', 'numeric', 'bigint', 'integer', 'double precision', 'boolean', 'timestamptz', 'jsonb'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export interface MappedColumn {
  /** Column name in the table. */
  readonly name: string;
  /** Top-level field of the record it is filled from. */
  readonly field: string;
  readonly type: ColumnType;
}
