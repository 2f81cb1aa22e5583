/**
 * Each order once on a multi-file replay: 200 MB in 6 files and 1 GB in 12,
 * written side by side, 20 % of the orders copied byte for byte into a random
 * later point of a random file (bench/data.ts multiFileOrderLogs). `run --once`
 * with default dedup flags (and --no-metrics), file sink, as child processes.
 *
 * With BENCH_BASELINE=<directory of another built checkout> (bench/baseline.sh
 * makes one for a commit), that build runs the same job, the two interleaved
 * round-robin; the table gives seconds (best and median), the ratio against the
 * baseline in the same run, and for every run what a user would check: lines
 * emitted, copies that got through, orders missing.
 *   BENCH_ONLY=replay npm run bench      (sizes: BENCH_REPLAY_MB, default 200,1000)
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, multiFileOrderLogs, REPO_ROOT, type MultiFileLogs } from './data.js';

export interface ReplayResult {
  readonly build: string;
  readonly seconds: number[];
  readonly emitted: number;
  readonly copiesPassed: number;
  readonly missing: number;
}

/** Lines of `path`, and how many of them repeat an order id or leave one out (ids are o<seq>, seq < orders). */
function audit(path: string, orders: number): { lines: number; repeated: number; missing: number } {
  const seen = new Uint8Array(orders);
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  let carry = Buffer.alloc(0);
  let lines = 0;
  let repeated = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    const chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      lines++;
      // `{"id":"o<seq>"` opens every generated order.
      let seq = 0;
      for (let i = start + 8; chunk[i]! >= 48 && chunk[i]! <= 57; i++) seq = seq * 10 + chunk[i]! - 48;
      if (seen[seq]) repeated++;
      else seen[seq] = 1;
      start = nl + 1;
    }
    carry = Buffer.from(chunk.subarray(start));
  }
  closeSync(fd);
  let missing = 0;
  for (let i = 0; i < orders; i++) if (!seen[i]) missing++;
  return { lines, repeated, missing };
}

function runOnce(root: string, logs: MultiFileLogs, out: string): { seconds: number; lines: number; repeated: number; missing: number } {
  rmSync(out, { force: true });
  const input = join(logs.paths[0]!, '..', '*.ndjson');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin/ordertail.js'), 'run', '--once', '--input', input, '--sink', `file:${out}`, '--no-metrics', '--log-level', 'warn'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${root}: exit ${r.status}: ${r.stderr}`);
  return { seconds, ...audit(out, logs.orders) };
}

export function run(opts: { megabytes: number; files: number; repeats?: number }): ReplayResult[] {
  const logs = multiFileOrderLogs(opts.megabytes, opts.files);
  const repeats = opts.repeats ?? Number(process.env.BENCH_REPLAY_REPEATS ?? 3);
  const builds: [string, string][] = [['this build', REPO_ROOT]];
  if (process.env.BENCH_BASELINE) builds.unshift([`baseline (${process.env.BENCH_BASELINE})`, process.env.BENCH_BASELINE]);
  const out = join(BENCH_DATA, 'replay-out.ndjson');
  const results = builds.map(([build]) => ({ build, seconds: [] as number[], emitted: 0, copiesPassed: 0, missing: 0 }));
  for (let i = 0; i < repeats; i++) {
    for (const [b, [, root]] of builds.entries()) {
      const r = runOnce(root, logs, out);
      const res = results[b]!;
      res.seconds.push(r.seconds);
      // The worst run counts: a replay must be right every time.
      res.emitted = Math.max(res.emitted, r.lines);
      res.copiesPassed = Math.max(res.copiesPassed, r.repeated);
      res.missing = Math.max(res.missing, r.missing);
    }
  }
  rmSync(out, { force: true });
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const base = results[0]!;
  console.log(
    `\nmulti-file replay, --once, default dedup flags: ${(logs.bytes / 1e6).toFixed(0)} MB in ${opts.files} files, ` +
      `${logs.orders} orders + ${logs.copies} byte-identical copies spread across files (best/median of ${repeats}, builds interleaved)`,
  );
  console.table(
    results.map((r) => ({
      build: r.build,
      'best s': Math.min(...r.seconds).toFixed(2),
      'median s': med(r.seconds).toFixed(2),
      'x first row (medians)': (med(base.seconds) / med(r.seconds)).toFixed(2),
      emitted: r.emitted,
      'copies passed': r.copiesPassed,
      'orders missing': r.missing,
    })),
  );
  return results;
}

/** BENCH_REPLAY_MB: comma-separated sizes (MB); 6 files at 200 MB, 12 from 1 GB up. */
export function replaySizes(): { megabytes: number; files: number }[] {
  return (process.env.BENCH_REPLAY_MB ?? '200,1000').split(',').map(Number).map((megabytes) => ({ megabytes, files: megabytes >= 1000 ? 12 : 6 }));
}

if (import.meta.url === `file://${process.argv[1]}`) for (const size of replaySizes()) run(size);
