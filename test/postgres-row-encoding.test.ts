/**
 * PostgreSQL sink: the addon writes a batch's direct rows (native/src/pg_copy.rs)
 * byte for byte as the JS encoder does (rows.ts, mapped-values.ts,
 * copy-text.ts), leaves to the database exactly the values the JS leaves, and
 * records the same row bounds, key halves and event times, so the staging
 * rows made from them are the same too. Awkward records a production log may
 * hold, and random ones: escapes, surrogates, duplicate and escaped keys,
 * nesting, whitespace, numbers jsonb rewrites, times outside what a double
 * counts in microseconds, records without a key; chunks cut anywhere between
 * records, and batch buffers too small for the next row.
 */
import { describe, expect, it } from 'vitest';
import { parsePostgresSink } from '../dist/src/config/postgres-sink.js';
import { RowBatch, RowEncoder } from '../dist/src/sinks/postgres/rows.js';
import { prng } from '../dist/src/util/prng.js';
import { awkwardRecords as sharedAwkwardRecords } from './helpers/awkward-orders.js';

const NATIVE_MISSING = new RowEncoder({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20, columns: parsePostgresSink('postgres://x@127.0.0.1/db?table=t').columns }).nativeRows
  ? undefined
  : 'the native addon is not built (or ORDERTAIL_NATIVE=0): its direct rows cannot be compared';

const COLUMN_SETS = [
  'id,symbol,side',
  'id,symbol,side,price:numeric',
  'id,symbol,note,price:numeric,qty:integer,big:bigint,px:double precision,flag:boolean,meta:jsonb,placed=ts:timestamptz,absent:text,side_=side',
  'a=id,b=id,meta:jsonb,price:jsonb,qty:numeric',
  'symbol',
];

const base = Date.parse('2026-12-03T10:00:00Z');

/** More than the direct-copy test needs: values the JS leaves to the database, which the addon must leave too. */
function awkwardRecords(): string[] {
  return [
    ...sharedAwkwardRecords(base),
    String.raw`{"id":"e10","symbol":"lone \udc00 low","timestamp":${base + 8}}`,
    String.raw`{"id":"e11","symbol":"high \ud800 alone","timestamp":${base + 9}}`,
    String.raw`{"id":"e12","symbol":"nul \u0000 inside","timestamp":${base + 10}}`,
    String.raw`{"\u0069d":"e13","symbol":"escaped key","timestamp":${base + 11}}`,
    `{"id":"e14","px":1e5,"qty":-0,"price":-0.0,"timestamp":${base + 12}}`,
    `{"id":"e15","timestamp":1e16}`,
    `{"id":"e16","timestamp":-9007199254740.991}`,
    `{"id":"e17","symbol":{"nested":"object"},"side":[1,2],"timestamp":${base + 13}}`,
    `{}`,
    `{"id":"e18","symbol":"back\\\\slash\\"quote","timestamp":${base}}`,
  ];
}

function randomRecords(n: number, seed: number): string[] {
  const rand = prng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ws = (): string => (rand() < 0.1 ? pick([' ', '  ', '\t', ' \t ']) : '');
  const pieces = ['a', 'é', '東', '😀', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u00e9', '\\u6771', '\\ud83d\\ude00', '\\u005c', '\\u0009', '\\u000a', '\\udc00', '\\ud800x', '\\u0000', ' ', 'Z9'];
  const str = (): string => `"${Array.from({ length: Math.floor(rand() * 6) }, () => pick(pieces)).join('')}"`;
  const num = (): string => pick(['0', '-0', '7', '-12', '3.25', '-0.0', '1e5', '2E-3', '123456789012345678901234567890', '0.000001', '-9223372036854775808', '9223372036854775807']);
  const value = (depth: number): string => {
    const r = rand();
    if (r < 0.35) return str();
    if (r < 0.6) return num();
    if (r < 0.68) return pick(['true', 'false', 'null']);
    if (depth > 2) return str();
    if (r < 0.84) return `{${ws()}${Array.from({ length: Math.floor(rand() * 3) }, () => `${str()}${ws()}:${ws()}${value(depth + 1)}`).join(`${ws()},${ws()}`)}${ws()}}`;
    return `[${Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1)).join(`${ws()},${ws()}`)}]`;
  };
  const keys = ['id', 'symbol', 'side', 'price', 'qty', 'big', 'px', 'flag', 'meta', 'ts', 'note', 'absent', 'other', 'i\\u0064'];
  const time = (): string => pick([String(base + Math.floor(rand() * 1e9)), String(base + rand()), '-1000.5', '0', '1e16', '"2026-12-03T10:00:00Z"', 'null', String(base + 0.0005)]);
  return Array.from({ length: n }, (_, i) => {
    const members: string[] = [];
    if (rand() < 0.9) members.push(`"id":${rand() < 0.8 ? `"r${i}"` : value(1)}`);
    for (let m = Math.floor(rand() * 8); m > 0; m--) members.push(`"${pick(keys)}"${ws()}:${ws()}${value(1)}`);
    if (rand() < 0.9) members.push(`"timestamp":${time()}`);
    for (let k = members.length - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1));
      [members[k], members[j]] = [members[j]!, members[k]!];
    }
    return `${ws()}{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}${ws()}`;
  });
}

/** The lines as a sink is written them: whole records, chunks cut at random record boundaries. */
function chunks(lines: readonly string[], seed: number): Buffer[] {
  const rand = prng(seed);
  const out: Buffer[] = [];
  for (let at = 0; at < lines.length; ) {
    const n = 1 + Math.floor(rand() * 200);
    out.push(Buffer.from(`${lines.slice(at, at + n).join('\n')}\n`));
    at += n;
  }
  return out;
}

interface Encoded {
  text: string;
  complete: boolean;
  rows: number;
  words: Buffer;
  staged: string;
  records: string[];
}

function encode(columns: string, native: boolean, parts: readonly Buffer[], capacity: number, batchRows: number): Encoded[] {
  const encoder = new RowEncoder({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20, columns: parsePostgresSink(`postgres://x@127.0.0.1/db?table=t&columns=${encodeURIComponent(columns)}`).columns, native });
  expect(encoder.nativeRows).toBe(native);
  const out: Encoded[] = [];
  let batch = new RowBatch(capacity);
  const close = (): void => {
    const text = batch.directText();
    const words = Buffer.from(batch.directRowWords.buffer, batch.directRowWords.byteOffset, batch.directRows * 5 * 8);
    const records = Array.from({ length: batch.rows }, (_, i) => batch.record(i));
    batch.stage();
    out.push({ text: text?.toString('latin1') ?? '(none)', complete: batch.directComplete, rows: batch.rows, words: Buffer.from(words), staged: batch.slice(0, batch.rows).toString('latin1'), records });
    batch = new RowBatch(capacity);
  };
  for (const part of parts) {
    encoder.encode(part, batch, base + 0.5);
    if (batch.rows >= batchRows) close();
  }
  close();
  return out;
}

describe('PostgreSQL sink: direct rows, native and JS', () => {
  it.each(COLUMN_SETS)('columns=%s: the same bytes, rows and staging rows from awkward and random records', (columns) => {
    if (NATIVE_MISSING) return expect(NATIVE_MISSING).toMatch(/native/);
    const lines = [...awkwardRecords(), ...randomRecords(3000, 7)];
    const all: Encoded[] = [];
    for (const [seed, capacity, batchRows] of [
      [1, 1 << 20, 1 << 30],
      [2, 64, 50],
      [3, 4096, 400],
    ] as const) {
      const parts = chunks(lines, seed);
      const js = encode(columns, false, parts, capacity, batchRows);
      const native = encode(columns, true, parts, capacity, batchRows);
      expect(native.length).toBe(js.length);
      for (let b = 0; b < js.length; b++) {
        expect(native[b]!.rows).toBe(js[b]!.rows);
        expect(native[b]!.complete).toBe(js[b]!.complete);
        expect(native[b]!.text).toBe(js[b]!.text);
        expect(native[b]!.words.equals(js[b]!.words)).toBe(true);
        expect(native[b]!.staged).toBe(js[b]!.staged);
        expect(native[b]!.records).toEqual(js[b]!.records);
      }
      all.push(...js);
    }
    // The cases the test is for happen: batches copied straight in and batches left to the database.
    expect(all.some((b) => b.complete && b.rows > 0)).toBe(true);
    expect(all.some((b) => !b.complete)).toBe(true);
  });

  it('a record larger than the room left in the batch buffer is written whole after it grows', () => {
    if (NATIVE_MISSING) return expect(NATIVE_MISSING).toMatch(/native/);
    const big = JSON.stringify({ id: 'big', symbol: 'S'.repeat(200_000), note: '\\'.repeat(1000), timestamp: base });
    const small = Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: `s${i}`, symbol: 'BTCUSDT', timestamp: base + i }));
    const parts = [Buffer.from(`${[...small, big, ...small.slice(0, 3)].join('\n')}\n`)];
    const js = encode('id,symbol,note', false, parts, 16, 1 << 30);
    const native = encode('id,symbol,note', true, parts, 16, 1 << 30);
    expect(native[0]!.rows).toBe(504);
    expect(native[0]!.text).toBe(js[0]!.text);
    expect(native[0]!.words.equals(js[0]!.words)).toBe(true);
  });
});
