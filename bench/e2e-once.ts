/**
 * End to end, --once over ≥ 200 MB of order NDJSON: ordertail (CLI, 2 workers,
 * file sink) against the naive baseline, both as child processes in the same run.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, orderLog, REPO_ROOT } from './data.js';

export interface E2eResult {
  name: string;
  seconds: number;
  /** Median over the case's runs (best-of is `seconds`). */
  medianSeconds?: number;
  mbPerSec: number;
  emitted: number;
}

/**
 * How a case's output is taken: written by the engine to `out` (file sink),
 * its stdout redirected to `out` (`> out`), or its stdout piped into `wc -l`
 * (a reader on the same two cores, as a user's next stage would be); or
 * the file sink given /dev/null: the same run without the output's page
 * cache, which is what writing a replay's output costs on this machine (its
 * records are counted from the run's summary line).
 */
type Output = 'file' | 'stdout>file' | 'stdout|wc' | 'devnull';

function timeRun(name: string, args: string[], outPath: string, inputBytes: number, output: Output = 'file'): E2eResult {
  rmSync(outPath, { force: true });
  const t0 = performance.now();
  let r;
  if (output === 'stdout|wc') {
    // pipefail: the engine's exit status, not wc's.
    const command = `set -o pipefail; ${[process.execPath, ...args].map(shellQuote).join(' ')} | wc -l`;
    r = spawnSync('bash', ['-c', command], { encoding: 'utf8', maxBuffer: 1 << 26 });
  } else if (output === 'stdout>file') {
    const fd = openSync(outPath, 'w');
    try {
      r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', fd, 'pipe'] });
    } finally {
      closeSync(fd);
    }
  } else {
    r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  }
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
  // A shadow run that disagreed would still write the same output: its warning is what tells.
  if (r.stderr.includes('parser shadow mismatch')) throw new Error(`${name}: ${r.stderr}`);
  const emitted =
    output === 'stdout|wc'
      ? Number(r.stdout.trim())
      : output === 'devnull'
        ? Number(/"emitted":(\d+)/.exec(r.stderr)?.[1] ?? Number.NaN)
        : readFileSync(outPath).reduce((n, b) => (b === 10 ? n + 1 : n), 0);
  return { name, seconds, mbPerSec: inputBytes / 1e6 / seconds, emitted };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

export function run(opts: { megabytes?: number; repeats?: number; parsers?: string[] } = {}): E2eResult[] {
  const input = orderLog(opts.megabytes ?? 200);
  const bytes = statSync(input).size;
  const out = join(BENCH_DATA, 'e2e-out.ndjson');
  const repeats = opts.repeats ?? Number(process.env.BENCH_E2E_REPEATS ?? 3);
  const best = (rs: E2eResult[]): E2eResult => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const results: E2eResult[] = [];
  const engine = (parser: string, metrics = false): string[] => [
    join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--once', '--workers', '2', '--parser', parser, '--input', input, '--sink', `file:${out}`,
    ...(metrics ? ['--metrics-port', '0'] : ['--no-metrics']),
  ];
  const toStdout = (parser: string): string[] => engine(parser).map((a) => (a === `file:${out}` ? 'stdout' : a));
  const cases: [string, string[], Output?][] = [
    ['naive baseline (readline+JSON.parse+Set)', [join(REPO_ROOT, 'dist/bench/naive-baseline.js'), input, out]],
    ...(opts.parsers ?? ['js', 'native', 'simdjson']).map((p): [string, string[]] => [`ordertail --once, 2 workers, --parser ${p}`, engine(p)]),
    // The same native run keeping its output in the page cache.
    ['ordertail --parser native --sink-page-cache keep', [...engine('native'), '--sink-page-cache', 'keep']],
    // Through the page cache, dropped once on disk (the default before 'direct', and a follower's).
    ['ordertail --parser native --sink-page-cache drop', [...engine('native'), '--sink-page-cache', 'drop']],
    // What the addon's batch dedup insert adds: the same native run with JS inserts.
    ['ordertail --parser native --dedup-impl js', [...engine('native'), '--dedup-impl', 'js']],
    // Observability's cost: the same native run with the metrics server, sampler and histograms on.
    ['ordertail --parser native, metrics server on', engine('native', true)],
    // Shadow mode's cost: a second parser re-parses a sample of the ranges (0.1 is the default share).
    ['ordertail --parser native --parser-shadow js (0.1)', [...engine('native'), '--parser-shadow', 'js', '--shadow-sample', '0.1']],
    ['ordertail --parser native --parser-shadow js (1.0)', [...engine('native'), '--parser-shadow', 'js', '--shadow-sample', '1']],
    ['ordertail --parser native --parser-shadow simdjson (0.1)', [...engine('native'), '--parser-shadow', 'simdjson', '--shadow-sample', '0.1']],
    // The stdout sink: redirected to a file, and piped to a reader.
    ['ordertail --parser native --sink stdout > file', toStdout('native'), 'stdout>file'],
    ['ordertail --parser native --sink stdout | wc -l', toStdout('native'), 'stdout|wc'],
    // The ceiling without the output's page cache.
    ['ordertail --parser native --sink file:/dev/null', [...engine('native').map((a) => (a === `file:${out}` ? 'file:/dev/null' : a)), '--sink-page-cache', 'drop'], 'devnull'],
  ];
  // Round-robin, not each case's repeats back to back: on a shared VM a slow
  // spell (the host backing fresh guest pages for the page cache, a noisy
  // neighbour) then costs every case one of its runs instead of costing one
  // case all of them, and the best of each case compares like with like.
  const runs: E2eResult[][] = cases.map(() => []);
  for (let i = 0; i < repeats; i++) {
    for (const [c, [name, args, output]] of cases.entries()) runs[c]!.push(timeRun(name, args, out, bytes, output));
  }
  for (const r of runs) results.push({ ...best(r), medianSeconds: median(r.map((x) => x.seconds)) });
  rmSync(out, { force: true });
  const base = results[0]!;
  console.log(`\nend to end --once over ${(bytes / 1e6).toFixed(0)} MB (best of ${repeats}, cases interleaved)`);
  console.table(
    results.map((r) => ({
      case: r.name,
      seconds: r.seconds.toFixed(2),
      'median s': r.medianSeconds!.toFixed(2),
      'MB/s': r.mbPerSec.toFixed(0),
      emitted: r.emitted,
      'x baseline': (r.mbPerSec / base.mbPerSec).toFixed(2),
      'x baseline (medians)': (base.medianSeconds! / r.medianSeconds!).toFixed(2),
    })),
  );
  for (const r of results) {
    if (r.emitted !== base.emitted) throw new Error(`${r.name} emitted ${r.emitted}, baseline ${base.emitted}`);
  }
  return results;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** BENCH_E2E_MB: comma-separated input sizes in MB (default 200,1000: start-up weighs less in the larger). */
export function e2eSizes(): number[] {
  return (process.env.BENCH_E2E_MB ?? process.env.BENCH_MB ?? '200,1000').split(',').map(Number);
}

if (import.meta.url === `file://${process.argv[1]}`) for (const megabytes of e2eSizes()) run({ megabytes });
