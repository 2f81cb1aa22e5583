import { closeSync, existsSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
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
