/**
 * Order logs as production writes them: several files side by side over the
 * same span of event time, a share of orders written twice (byte-identical
 * copies, so the same event time) later in the same file or in another one,
 * some order ids legitimately reused after more than the window, and
 * non-ASCII text. Returns what a correct engine must emit: every order
 * instance once, as its original line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from '../../dist/src/util/prng.js';

export interface OrderLogSpec {
  readonly seed: number;
  readonly files: number;
  /** Order instances per file (before copies are added). */
  readonly ordersPerFile: number;
  /** Share of orders that get one byte-identical copy. */
  readonly duplicateShare: number;
  /** Share of orders whose id is reused by a later, distinct order more than `windowMs` later. */
  readonly reuseShare?: number;
  readonly windowMs: number;
  /** Event-time span every file covers. */
  readonly spanMs: number;
  readonly startMs?: number;
  readonly prefix?: string;
}

export interface OrderLogs {
  readonly paths: string[];
  /** Every line a correct engine emits, each once (order across files unspecified). */
  readonly expected: string[];
  readonly duplicatesWritten: number;
  readonly bytes: number;
}

const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT'];
const NOTES = ['', 'ok', 'Zürich desk', '東京 desk', 'São Paulo', 'клиент 42', '🚀 momentum'];

export function writeOrderLogs(dir: string, spec: OrderLogSpec): OrderLogs {
  const rand = prng(spec.seed);
  const start = spec.startMs ?? 1_760_000_000_000;
  const prefix = spec.prefix ?? 'orders';
  const files: string[][] = Array.from({ length: spec.files }, () => []);
  const expected: string[] = [];
  let next = 0;
  let duplicates = 0;
  const line = (id: string, t: number): string => {
    const note = NOTES[Math.floor(rand() * NOTES.length)]!;
    const side = rand() < 0.5 ? 'buy' : 'sell';
    const sym = SYMBOLS[Math.floor(rand() * SYMBOLS.length)]!;
    return JSON.stringify({ id, timestamp: t, symbol: sym, side, price: Math.round(rand() * 1e6) / 100, amount: Math.round(rand() * 1e4) / 1e3, note });
  };
  for (let f = 0; f < spec.files; f++) {
    for (let i = 0; i < spec.ordersPerFile; i++) {
      const t = start + Math.floor((i / spec.ordersPerFile) * spec.spanMs) + Math.floor(rand() * 50);
      const id = `o-${next++}`;
      const original = line(id, t);
      files[f]!.push(original);
      expected.push(original);
      if (spec.reuseShare && rand() < spec.reuseShare) {
        // The same id, a different order, far outside the window: both count.
        const reused = line(id, t + spec.windowMs * 3 + 1);
        files[f]!.push(reused);
        expected.push(reused);
      }
    }
  }
  // Copies go anywhere after their original's file position in another file,
  // or far later in the same file: emission order must not matter.
  const copies: { file: number; text: string }[] = [];
  for (let f = 0; f < spec.files; f++) {
    for (const original of files[f]!) {
      if (rand() >= spec.duplicateShare) continue;
      const target = spec.files > 1 && rand() < 0.6 ? Math.floor(rand() * spec.files) : f;
      copies.push({ file: target, text: original });
      duplicates++;
    }
  }
  for (const c of copies) {
    const lines = files[c.file]!;
    lines.splice(Math.floor(rand() * (lines.length + 1)), 0, c.text);
  }
  const paths: string[] = [];
  let bytes = 0;
  for (let f = 0; f < spec.files; f++) {
    const path = join(dir, `${prefix}-${String(f).padStart(2, '0')}.ndjson`);
    const text = files[f]!.join('\n') + '\n';
    writeFileSync(path, text);
    bytes += Buffer.byteLength(text);
    paths.push(path);
  }
  return { paths, expected, duplicatesWritten: duplicates, bytes };
}

/** Lines that differ between two multisets: what is missing and what is extra (each with its count). */
export function multisetDiff(actual: readonly string[], expected: readonly string[]): { missing: number; extra: number; sampleExtra: string[] } {
  const counts = new Map<string, number>();
  for (const l of expected) counts.set(l, (counts.get(l) ?? 0) + 1);
  let extra = 0;
  const sampleExtra: string[] = [];
  for (const l of actual) {
    const n = counts.get(l) ?? 0;
    if (n === 0) {
      extra++;
      if (sampleExtra.length < 3) sampleExtra.push(l);
    } else counts.set(l, n - 1);
  }
  let missing = 0;
  for (const n of counts.values()) missing += n;
  return { missing, extra, sampleExtra };
}
