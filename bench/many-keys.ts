/**
 * The default table holds a replay of 20 M distinct keys without forgetting:
 * `node dist/bench/many-keys.js [millions=20]` writes that many small orders in
 * 4 files (plus 5 % byte-identical copies spread across them), runs
 * `run --once` with default dedup flags, and prints the summary line, the
 * table size the engine stated, wall time and peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, REPO_ROOT } from './data.js';
import { prng } from '../src/util/prng.js';

const millions = Number(process.argv[2] ?? 20);
const keys = millions * 1_000_000;
const files = 4;
const dir = join(BENCH_DATA, `many-keys-${millions}m`);
if (!existsSync(join(dir, 'done'))) {
  mkdirSync(dir, { recursive: true });
  const rand = prng(7);
  const fds = Array.from({ length: files }, (_, f) => openSync(join(dir, `orders-${f}.ndjson`), 'w'));
  const t0 = 1_764_720_000_000;
  for (let base = 0; base < keys; base += 100_000) {
    const parts: string[][] = Array.from({ length: files }, () => []);
    for (let k = base; k < Math.min(keys, base + 100_000); k++) {
      const line = `{"id":"k${k}","timestamp":${t0 + Math.floor(k / 10)},"px":${(k % 9973) / 10}}`;
      parts[k % files]!.push(line);
      // A copy far away: in another file, up to the end of the data.
      if (rand() < 0.05) parts[Math.floor(rand() * files)]!.push(line);
    }
    for (let f = 0; f < files; f++) writeSync(fds[f]!, parts[f]!.join('\n') + '\n');
  }
  for (const fd of fds) closeSync(fd);
  closeSync(openSync(join(dir, 'done'), 'w'));
}
const out = join(BENCH_DATA, 'many-keys-out.ndjson');
const r = spawnSync('/usr/bin/time', ['-f', 'peak RSS %M KB, wall %e s', process.execPath, join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--once', '--no-metrics', '--input', join(dir, '*.ndjson'), '--sink', `file:${out}`], { encoding: 'utf8', maxBuffer: 1 << 26 });
for (const line of r.stderr.split('\n')) {
  if (/dedup table:|done:|peak RSS/.test(line)) console.log(line.replace(/^\{.*"msg":"(.*)"\}$/, '$1'));
}
console.log(`exit ${r.status}; ${keys} distinct keys written`);
