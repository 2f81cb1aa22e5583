/**
 * End to end, --once over ≥ 200 MB of order NDJSON: ordertail (CLI, 2 workers,
 * file sink) against the naive baseline, both as child processes in the same run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, orderLog, REPO_ROOT } from './data.js';

export interface E2eResult {
  name: string;
  seconds: number;
  mbPerSec: number;
  emitted: number;
}

function timeRun(name: string, args: string[], outPath: string, inputBytes: number): E2eResult {
  rmSync(outPath, { force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
  const emitted = readFileSync(outPath).reduce((n, b) => (b === 10 ? n + 1 : n), 0);
  return { name, seconds, mbPerSec: inputBytes / 1e6 / seconds, emitted };
}

export function run(opts: { megabytes?: number; repeats?: number; parsers?: string[] } = {}): E2eResult[] {
  const input = orderLog(opts.megabytes ?? 200);
  const bytes = statSync(input).size;
  const out = join(BENCH_DATA, 'e2e-out.ndjson');
  const repeats = opts.repeats ?? 2;
  const best = (rs: E2eResult[]): E2eResult => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const results: E2eResult[] = [];
  const engine = (parser: string, metrics = false): string[] => [
    join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--once', '--workers', '2', '--parser', parser, '--input', input, '--sink', `file:${out}`,
    ...(metrics ? ['--metrics-port', '0'] : ['--no-metrics']),
  ];
  const cases: [string, string[]][] = [
    ['naive baseline (readline+JSON.parse+Set)', [join(REPO_ROOT, 'dist/bench/naive-baseline.js'), input, out]],
    ...(opts.parsers ?? ['js', 'native', 'simdjson']).map((p): [string, string[]] => [`ordertail --once, 2 workers, --parser ${p}`, engine(p)]),
    // What the addon's batch dedup insert adds: the same native run with JS inserts.
    ['ordertail --parser native --dedup-impl js', [...engine('native'), '--dedup-impl', 'js']],
    // Observability's cost: the same native run with the metrics server, sampler and histograms on.
    ['ordertail --parser native, metrics server on', engine('native', true)],
  ];
  for (const [name, args] of cases) {
    const runs: E2eResult[] = [];
    for (let i = 0; i < repeats; i++) runs.push(timeRun(name, args, out, bytes));
    results.push(best(runs));
  }
  rmSync(out, { force: true });
  const base = results[0]!;
  console.log(`\nend to end --once over ${(bytes / 1e6).toFixed(0)} MB (best of ${repeats})`);
  console.table(
    results.map((r) => ({
      case: r.name,
      seconds: r.seconds.toFixed(2),
      'MB/s': r.mbPerSec.toFixed(0),
      emitted: r.emitted,
      'x baseline': (r.mbPerSec / base.mbPerSec).toFixed(2),
    })),
  );
  for (const r of results) {
    if (r.emitted !== base.emitted) throw new Error(`${r.name} emitted ${r.emitted}, baseline ${base.emitted}`);
  }
  return results;
}

/** BENCH_E2E_MB: comma-separated input sizes in MB (default 200,1000: start-up weighs less in the larger). */
export function e2eSizes(): number[] {
  return (process.env.BENCH_E2E_MB ?? process.env.BENCH_MB ?? '200,1000').split(',').map(Number);
}

if (import.meta.url === `file://${process.argv[1]}`) for (const megabytes of e2eSizes()) run({ megabytes });
