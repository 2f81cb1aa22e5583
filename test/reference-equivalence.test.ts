import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { naiveUniqueRecords } from '../bench/naive-baseline.ts';
import { describe, expect, it } from 'vitest';
import { orderLine, prng } from '../dist/src/demo/orders.js';
import { runOnce, workdir } from './helpers/workdir.js';
import { Engine } from '../dist/src/index.js';

/** The naive reference: readline + JSON.parse + Set, as a batch job would do it (bench/naive-baseline.ts). */
async function reference(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of naiveUniqueRecords(paths)) out.push(line);
  return out;
}

describe('same result as the naive reference', () => {
  it('multi-file NDJSON with duplicates across and within files', async () => {
    const dir = workdir();
    const rand = prng(7);
    const pool: string[] = [];
    const paths: string[] = [];
    const base = Date.UTC(2026, 10, 25, 9);
    let seq = 0;
    for (let f = 0; f < 4; f++) {
      const lines: string[] = [];
      for (let i = 0; i < 15_000; i++) {
        if (pool.length > 0 && rand() < 0.15) {
          lines.push(pool[Math.floor(rand() * pool.length)]!); // exact re-send
        } else {
          const line = orderLine({ id: `o${seq}`, seq, timestamp: base + seq }, rand);
          seq++;
          lines.push(line);
          pool.push(line);
        }
        if (rand() < 0.01) lines.push(rand() < 0.5 ? '' : '   \t ');
        if (rand() < 0.005) lines.push('{"id": broken');
      }
      const path = join(dir, `orders-${f}.ndjson`);
      writeFileSync(path, lines.join(f % 2 ? '\r\n' : '\n') + '\n');
      paths.push(path);
    }
    const expected = await reference(paths);
    // Small ranges force history files to be split across both workers.
    const result = await runOnce(dir, { input: join(dir, '*.ndjson'), rangeBytes: 64 * 1024 });
    expect(result.lines.length).toBe(expected.length);
    expect([...result.lines].sort()).toEqual([...expected].sort());
    // Per file, output order is input order: lines that occur exactly once in
    // the whole input can be traced to their file and position.
    const where = new Map<string, [number, number] | null>();
    for (const [f, path] of paths.entries()) {
      const lines = readFileSync(path, 'utf8').split(/\r?\n/).map((l) => l.trim());
      lines.forEach((line, i) => where.set(line, where.has(line) ? null : [f, i]));
    }
    const lastIndex = new Map<number, number>();
    for (const line of result.lines) {
      const at = where.get(line);
      if (!at) continue;
      expect(at[1]).toBeGreaterThan(lastIndex.get(at[0]) ?? -1);
      lastIndex.set(at[0], at[1]);
    }
    expect(lastIndex.size).toBe(paths.length);
    expect(result.stats.recordsEmitted).toBe(expected.length);
    expect(result.stats.recordsRead).toBe(result.stats.recordsEmitted + result.stats.duplicates + result.stats.rejected);
    expect(result.deadLetters.every((d) => d.reason === 'invalid_json')).toBe(true);
  });
});

describe('single file, no duplicates', () => {
  it('emits every record in input order, byte for byte', async () => {
    const dir = workdir();
    const rand = prng(11);
    const lines = Array.from({ length: 30_000 }, (_, i) => orderLine({ id: `x${i}`, seq: i, timestamp: 1_700_000_000_000 + i }, rand));
    writeFileSync(join(dir, 'one.ndjson'), lines.join('\n') + '\n');
    const result = await runOnce(dir, { input: join(dir, 'one.ndjson'), rangeBytes: 32 * 1024 });
    expect(result.lines).toEqual(lines);
  });
});

// The file sink writes runs of records straight from the range buffers
// (writev, large batches in the background) and copies only records that need
// a "\n"; the records() iterator copies everything. Both must give the same
// bytes, in order, also for records larger than the 1 MiB staging buffer.
describe('file sink (gathered writes) and records() (copied batches) agree', () => {
  it('CRLF, padding, duplicates, rejects and 1.5 MB records, byte for byte', async () => {
    const dir = workdir();
    const rand = prng(23);
    const lines: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      const id = Math.floor(rand() * 30_000);
      const r = rand();
      if (r < 0.0003) lines.push(`{"id":"huge${i}","blob":"${'z'.repeat(1_500_000)}"}`);
      else if (r < 0.05) lines.push(`  {"id":${id},"pad":true} \r`);
      else if (r < 0.06) lines.push('{"id": broken');
      else lines.push(orderLine({ id: `o${id}`, seq: i, timestamp: 1_700_000_000_000 + i }, rand));
    }
    const input = join(dir, 'mixed.ndjson');
    writeFileSync(input, lines.join('\n') + '\n');
    const viaFile = await runOnce(dir, { input, rangeBytes: 256 * 1024 });
    const engine = new Engine({ input, once: true, workers: 2, rangeBytes: 256 * 1024 });
    const records = engine.records();
    await engine.start();
    const viaIterator: string[] = [];
    const consumed = (async () => {
      for await (const record of records) viaIterator.push(record.toString());
    })();
    await engine.finished();
    await engine.stop();
    await consumed;
    expect(viaFile.lines.some((l) => l.length > 1_000_000)).toBe(true);
    expect(viaFile.lines.length).toBe(viaIterator.length);
    expect(viaFile.lines.join('\n')).toBe(viaIterator.join('\n'));
    expect(viaFile.stats.duplicates).toBeGreaterThan(1000);
  });
});
