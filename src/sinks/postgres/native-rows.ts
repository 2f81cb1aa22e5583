/*
 * The addon's direct-row encoder (native/src/pg_copy.rs): the bytes
 * RowEncoder's JS path writes (rows.ts, mapped-values.ts, copy-text.ts), for
 * a parser call's slots in one call instead of a JS pass per record. The
 * differential test (test/postgres-row-encoding.test.ts) holds the two equal.
 */
import type { ColumnType, MappedColumn } from '../../config/postgres-columns.js';
import { loadNativeAddon } from '../../parser/native.js';

/** Numbers per row the encoders write (RowBatch.directRowWords): record start, row end, key hi (NaN: no key), key lo, event ms. */
export const ROW_WORDS = 5;

interface NativeDirectRowsHandle {
  readonly __nativeDirectRows?: never;
}

interface DirectRowsAddon {
  NativeDirectRows: new (fields: Uint8Array[], types: number[]) => NativeDirectRowsHandle;
  encodeDirectRows(
    encoder: NativeDirectRowsHandle,
    input: Uint8Array,
    slots: Int32Array,
    first: number,
    count: number,
    arrivalMs: number,
    plain: boolean,
    complete: boolean,
    out: Uint8Array,
    end: number,
    rows: Float64Array,
    result: Float64Array,
  ): void;
}

function hasDirectRows(addon: object): addon is DirectRowsAddon {
  const a = addon as Partial<DirectRowsAddon>;
  return typeof a.encodeDirectRows === 'function' && typeof a.NativeDirectRows === 'function';
}

/** pg_copy.rs COLUMN_*: how a value is written depends only on these. */
const typeCode = (type: ColumnType): number => (type === 'jsonb' ? 2 : type === 'numeric' ? 1 : 0);

export class NativeDirectRows {
  private readonly result = new Float64Array(4);
  private readonly handle: NativeDirectRowsHandle;

  constructor(
    private readonly addon: DirectRowsAddon,
    columns: readonly MappedColumn[],
  ) {
    this.handle = new addon.NativeDirectRows(
      columns.map((c) => Buffer.from(c.field, 'utf8')),
      columns.map((c) => typeCode(c.type)),
    );
  }

  /**
   * Rows for the accepted slots of `slots[first, count)` into `out` from
   * `end`, ROW_WORDS numbers per row into `rows` (room for one per slot);
   * stops before a row `out` has no worst-case room for. `next` is the
   * first slot not handled.
   */
  encode(input: Uint8Array, slots: Int32Array, first: number, count: number, arrivalMs: number, plain: boolean, complete: boolean, out: Uint8Array, end: number, rows: Float64Array): { next: number; end: number; rows: number; complete: boolean } {
    const r = this.result;
    this.addon.encodeDirectRows(this.handle, input, slots, first, count, arrivalMs, plain, complete, out, end, rows, r);
    return { next: r[0]!, end: r[1]!, rows: r[2]!, complete: r[3] === 1 };
  }
}

/** The addon's encoder for `columns`, or undefined (not built, disabled by ORDERTAIL_NATIVE=0, or built before it). */
export function loadNativeDirectRows(columns: readonly MappedColumn[]): NativeDirectRows | undefined {
  const loaded = loadNativeAddon();
  if ('error' in loaded || !hasDirectRows(loaded.addon)) return undefined;
  return new NativeDirectRows(loaded.addon, columns);
}
