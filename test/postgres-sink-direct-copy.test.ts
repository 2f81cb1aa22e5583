/**
 * PostgreSQL sink: a batch is copied straight into the table when it can be,
 * and what lands is exactly what the staging path's SQL makes of the same
 * records (event time, key hash, every mapped column, the record); values
 * whose conversion only the database can tell, a copy already in the table
 * and a row the database refuses send the batch through the staging path.
 * Driven on BatchWriter directly, the same records into two tables: one
 * written straight, one through the staging path (an encoder without the
 * mapped columns writes no direct rows).
 */
import { describe, expect, it } from 'vitest';
import { parsePostgresSink } from '../dist/src/config/postgres-sink.js';
import { BatchWriter, type CommitResult } from '../dist/src/sinks/postgres/batch-writer.js';
import { writeDouble, writeInt64 } from '../dist/src/sinks/postgres/copy-text.js';
import { RowBatch, RowEncoder } from '../dist/src/sinks/postgres/rows.js';
import { ensureTables } from '../dist/src/sinks/postgres/schema.js';
import { awkwardRecords } from './helpers/awkward-orders.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const COLUMNS =
  'id,symbol,note,price:numeric,qty:integer,big:bigint,px:double precision,flag:boolean,meta:jsonb,placed=ts:timestamptz,absent:text,side_=side';
const base = Date.parse('2026-12-03T10:00:00Z');

async function table(name: string): Promise<BatchWriter> {
  const config = parsePostgresSink(pg.server.url(`table=${name}&columns=${encodeURIComponent(COLUMNS)}&consumer=${name}`));
  const admin = await pg.server.client();
  const layout = await ensureTables(admin, config);
  await admin.end();
  return new BatchWriter(config, layout.qualified);
}

const encoderOptions = { dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20 };
const direct = new RowEncoder({ ...encoderOptions, columns: parsePostgresSink(`postgres://x@127.0.0.1/db?table=t&columns=${encodeURIComponent(COLUMNS)}`).columns });
const staged = new RowEncoder(encoderOptions);

function encode(encoder: RowEncoder, lines: readonly string[]): RowBatch {
  const batch = new RowBatch();
  encoder.encode(Buffer.from(`${lines.join('\n')}\n`), batch, base);
  return batch;
}

async function commit(writer: BatchWriter, batch: RowBatch, consumer: string, generation: number): Promise<CommitResult> {
  const client = await pg.server.client();
  try {
    const result = await writer.commit(client, batch, consumer, generation, []);
    if (result === 'behind') throw new Error('unexpected: behind');
    return result;
  } finally {
    await client.end();
  }
}

/** Rows of `a` not in `b` and of `b` not in `a`, every column compared (jsonb by value, numbers by value). */
async function difference(a: string, b: string): Promise<unknown[]> {
  const cols = 'event_time, key_hash, id, symbol, note, price, qty, big, px, flag, meta, placed, absent, side_, record';
  return pg.server.query(`(SELECT ${cols} FROM ${a} EXCEPT ALL SELECT ${cols} FROM ${b}) UNION ALL (SELECT ${cols} FROM ${b} EXCEPT ALL SELECT ${cols} FROM ${a})`);
}

describe('PostgreSQL sink: batches copied straight into the table', () => {
  it('writes what the staging path writes, value for value, for every awkward record', async (ctx) => {
    requirePostgres(ctx);
    const lines = awkwardRecords();
    const [straight, throughStaging] = [await table('straight'), await table('through_staging')];
    // Two batches: one without a byte COPY must escape (the encoder's fast copy), one with them.
    const batches = [lines.slice(0, 600), lines.slice(600)];
    for (const [g, part] of batches.entries()) {
      const a = await commit(straight, encode(direct, part), 'straight', g + 1);
      const b = await commit(throughStaging, encode(staged, part), 'through_staging', g + 1);
      expect(a).toMatchObject({ direct: true, inserted: part.length, conflicts: 0, rejected: [] });
      expect(b).toMatchObject({ direct: false, inserted: part.length, conflicts: 0, rejected: [] });
    }
    expect(await difference('straight', 'through_staging')).toEqual([]);
    // The comparison has teeth: the awkward values are there, decoded.
    const e2 = await pg.server.query<{ symbol: string; note: string }>(`SELECT symbol, note FROM straight WHERE id = 'e2'`);
    expect(e2).toEqual([{ symbol: 'é東😀', note: 'café 😀 ünï' }]);
    const e3 = await pg.server.query<{ symbol: string }>(`SELECT symbol FROM straight WHERE id = 'e3'`);
    expect(e3).toEqual([{ symbol: 'LAST' }]);
    const keyless = await pg.server.query<{ n: string }>(`SELECT count(*) AS n FROM straight WHERE key_hash IS NULL`);
    expect(keyless[0]!.n).toBe('1');
  });

  it('leaves to the staging path a batch holding a value only the database can convert', async (ctx) => {
    requirePostgres(ctx);
    const ordinary = `{"id":"n0","symbol":"BTCUSDT","timestamp":${base}}`;
    const awkward = [
      `{"id":"x1","note":1e2,"timestamp":${base + 1}}`, // jsonb writes 100
      `{"id":"x2","qty":-0,"timestamp":${base + 2}}`, // jsonb writes 0
      `{"id":"x3","note":{"b":1, "a":2},"timestamp":${base + 3}}`, // jsonb reorders and respaces
      String.raw`{"id":"x4","sym\u0062ol":"ESCAPED KEY","timestamp":${base + 4}}`,
      `{"id":"x5","symbol":"far future","timestamp":${Date.parse('2400-01-01T00:00:00Z')}}`,
      String.raw`{"id":"x6","symbol":"nul\u0000","timestamp":${base + 6}}`, // jsonb refuses it: dead-lettered
    ];
    let generation = 0;
    const [straight, throughStaging] = [await table('awk_straight'), await table('awk_staging')];
    for (const record of awkward) {
      generation++;
      const lines = [ordinary.replace('n0', `n${generation}`), record];
      const a = await commit(straight, encode(direct, lines), 'awk_straight', generation);
      const b = await commit(throughStaging, encode(staged, lines), 'awk_staging', generation);
      expect(a.direct, record).toBe(false);
      expect(a.inserted + a.rejected.length, record).toBe(b.inserted + b.rejected.length);
    }
    expect(await difference('awk_straight', 'awk_staging')).toEqual([]);
    const note = await pg.server.query<{ note: string }>(`SELECT note FROM awk_straight WHERE id = 'x1'`);
    expect(note).toEqual([{ note: '100' }]);
  });

  it('sends a batch with a copy already in the table through the staging path: no second row, the copy counted', async (ctx) => {
    requirePostgres(ctx);
    const writer = await table('copies');
    const order = (i: number): string => JSON.stringify({ id: `c${i}`, symbol: 'ETHUSDT', timestamp: base + i });
    const lines = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => order(from + k));
    expect(await commit(writer, encode(direct, lines(0, 100)), 'copies', 1)).toMatchObject({ direct: true, inserted: 100, conflicts: 0 });
    expect(await commit(writer, encode(direct, lines(50, 150)), 'copies', 2)).toMatchObject({ direct: false, inserted: 50, conflicts: 50 });
    const rows = await pg.server.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM copies');
    expect(rows[0]).toEqual({ n: '150', ids: '150' });
    const generation = await pg.server.query<{ g: string }>(`SELECT generation AS g FROM ordertail_offsets WHERE consumer = 'copies'`);
    expect(generation[0]!.g).toBe('2');
  });

  it('sends a batch with a row the database refuses through the staging path, which hands the row back', async (ctx) => {
    requirePostgres(ctx);
    const writer = await table('refused');
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `r${i}`, qty: i === 31 ? 'lots' : String(i), timestamp: base + i }));
    const result = await commit(writer, encode(direct, lines), 'refused', 1);
    expect(result).toMatchObject({ direct: false, inserted: 49, conflicts: 0 });
    expect(result.rejected.map((r) => r.row)).toEqual([31]);
    expect(result.rejected[0]!.message).toMatch(/invalid input syntax for type integer.*SQLSTATE 22P02/);
  });
});

describe('COPY text of a staging row\'s numbers', () => {
  it('writes each double as JavaScript would, integers without a string in between', () => {
    const buf = Buffer.alloc(64);
    const values = [0, -0, 1, -1, 9, 10, 2 ** 31 - 1, -(2 ** 31), 999_999_999, 1_000_000_000, 1_000_000_001, 1_764_720_000_123, -1_764_720_000_123, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 0.5, -0.25, 1_764_720_000_000.25, 1e21, 1e-7, Number.MAX_VALUE];
    for (let i = 0; i < 2000; i++) values.push(Math.floor((Math.random() - 0.5) * 2 ** 54), (Math.random() * 2 ** 32) | 0);
    for (const v of values) {
      const end = writeDouble(buf, 0, v);
      expect(buf.toString('latin1', 0, end), String(v)).toBe(String(v));
    }
  });
});

describe('COPY text of a key hash', () => {
  it('writes the signed 64-bit value the staging SQL builds from its two halves', () => {
    const buf = Buffer.alloc(32);
    const cases: [number, number][] = [[0, 0], [0, -1], [-1, -1], [-1, 0], [0x7fffffff, -1], [-0x80000000, 0], [-0x80000000, 1], [1, 0], [123456, 789], [-2, 0x7fffffff]];
    for (let i = 0; i < 2000; i++) cases.push([(Math.random() * 2 ** 32) | 0, (Math.random() * 2 ** 32) | 0]);
    // Around multiples of 10⁹ (where the quotient estimate is off by one) and the limits of a double and of int64.
    const halves = (v: bigint): [number, number] => [Number(BigInt.asIntN(32, v >> 32n)), Number(BigInt.asIntN(32, v))];
    for (const v of [10n ** 9n, 10n ** 18n, 2n ** 53n, 2n ** 63n - 1n, 4_294_967_296n * 1_000_000_000n, 9_223_372_036_000_000_000n]) {
      for (const d of [-2n, -1n, 0n, 1n, 2n]) cases.push(halves(v + d), halves(-(v + d)));
    }
    for (const [hi, lo] of cases) {
      const end = writeInt64(buf, 0, hi, lo);
      const expected = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString();
      expect(buf.toString('latin1', 0, end), `${hi} ${lo}`).toBe(expected);
    }
  });
});
