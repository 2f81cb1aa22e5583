import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { orderLine, prng } from '../src/demo/orders.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_DATA = join(REPO_ROOT, '.bench-data');

/**
 * ≥ `megabytes` MB of order NDJSON (~300 B records, 10 % re-sent duplicates),
 * generated once and cached in .bench-data/ (deterministic for a given size).
 */
export function orderLog(megabytes: number): string {
  mkdirSync(BENCH_DATA, { recursive: true });
  const path = join(BENCH_DATA, `orders-${megabytes}mb.ndjson`);
  if (existsSync(path) && statSync(path).size >= megabytes * 1e6) return path;
  const rand = prng(2026);
  const fd = openSync(path, 'w');
  const recent: string[] = [];
  let written = 0;
  let seq = 0;
  const base = Date.UTC(2026, 10, 25);
  while (written < megabytes * 1e6) {
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (recent.length > 0 && rand() < 0.1) {
        lines.push(recent[Math.floor(rand() * recent.length)]!);
      } else {
        const line = orderLine({ id: `o${seq}`, seq, timestamp: base + seq }, rand);
        seq++;
        lines.push(line);
        if (recent.length < 5000) recent.push(line);
        else recent[Math.floor(rand() * 5000)] = line;
      }
    }
    const chunk = Buffer.from(lines.join('\n') + '\n');
    writeSync(fd, chunk);
    written += chunk.length;
  }
  closeSync(fd);
  return path;
}

const NOTES = ['"note":"Zürich desk, Größe geprüft"', '"note":"東京デスク 約定"', '"note":"São Paulo — ordem revisada"', '"note":"клиент: повтор заявки"'];

export interface MultiFileLogs {
  readonly paths: string[];
  /** Distinct orders written (each must come out exactly once). */
  readonly orders: number;
  /** Byte-identical copies written besides them. */
  readonly copies: number;
  readonly bytes: number;
}

/**
 * ≥ `megabytes` MB of order NDJSON in `files` files written side by side over
 * the same 100 minutes of event time, as a trading system's writers do; 20 %
 * of the orders also written a second time, byte for byte (same event time),
 * at a random later point of a random file (far apart: minutes to the end of
 * the data); half of the records carry raw non-ASCII text. Cached in
 * .bench-data/ with a manifest of its counts.
 */
export function multiFileOrderLogs(megabytes: number, files: number): MultiFileLogs {
  const dir = join(BENCH_DATA, `multi-${megabytes}mb-${files}f`);
  const manifest = join(dir, 'manifest.json');
  const paths = Array.from({ length: files }, (_, f) => join(dir, `orders-${String(f).padStart(2, '0')}.ndjson`));
  if (existsSync(manifest)) return { paths, ...(JSON.parse(readFileSync(manifest, 'utf8')) as Omit<MultiFileLogs, 'paths'>) };
  mkdirSync(dir, { recursive: true });
  const rand = prng(13);
  const fds = paths.map((p) => openSync(p, 'w'));
  const base = Date.UTC(2026, 11, 3);
  // ~310 B per line with the copies: steps of one order per file.
  const steps = Math.ceil((megabytes * 1e6) / files / 310 / 1.2);
  const spanMs = 100 * 60_000;
  const pending = new Map<number, { file: number; line: string }[]>();
  let orders = 0;
  let copies = 0;
  let bytes = 0;
  const out: string[][] = paths.map(() => []);
  const flush = (force: boolean): void => {
    for (let f = 0; f < files; f++) {
      if (!force && out[f]!.length < 2000) continue;
      const chunk = Buffer.from(out[f]!.join('\n') + '\n');
      if (out[f]!.length > 0) writeSync(fds[f]!, chunk);
      bytes += out[f]!.length > 0 ? chunk.length : 0;
      out[f] = [];
    }
  };
  for (let s = 0; s < steps; s++) {
    for (let f = 0; f < files; f++) {
      const seq = orders++;
      const timestamp = base + Math.floor((s / steps) * spanMs) + Math.floor(rand() * 20);
      const line = orderLine({ id: `o${seq}`, seq, timestamp }, rand, rand() < 0.5 ? `,${NOTES[seq % NOTES.length]}` : '');
      out[f]!.push(line);
      if (rand() < 0.2) {
        const at = s + 1 + Math.floor(rand() * (steps - s));
        const list = pending.get(at) ?? [];
        list.push({ file: Math.floor(rand() * files), line });
        pending.set(at, list);
      }
    }
    for (const c of pending.get(s) ?? []) {
      out[c.file]!.push(c.line);
      copies++;
    }
    pending.delete(s);
    flush(false);
  }
  for (const list of pending.values()) {
    for (const c of list) {
      out[c.file]!.push(c.line);
      copies++;
    }
  }
  flush(true);
  for (const fd of fds) closeSync(fd);
  const counts = { orders, copies, bytes };
  writeFileSync(manifest, JSON.stringify(counts));
  return { paths, ...counts };
}
