/**
 * Footprint and start-up of a one-record run (issue 17, items 3 and 4):
 * `run --once --input one.ndjson --sink file:OUT --no-metrics` on a file of one
 * short line, as a child process. Per run: spawn → the record in the sink (an
 * inotify watch on the output file), spawn → exit, and the peak RSS of the
 * process (`/usr/bin/time -f %M`; without it the column is empty). `node -e 0`
 * runs in the same rounds: the floor no build can go under on this machine and
 * this Node (Node 20 reads the file NODE_EXTRA_CA_CERTS names as it starts, so
 * where that is set the floor is higher; the bench says so).
 *
 * In the same rounds, with the metrics server on (the CLI's default): the
 * same one-record run, and a follower's spawn → "ready" log line (issue 16,
 * item 4).
 *
 * With BENCH_BASELINE=<directory of another built checkout> (bench/baseline.sh
 * makes one for a commit), that build runs the same job, the two interleaved
 * round-robin, and the table gives the ratio of medians against it.
 *   BENCH_ONLY=startup npm run bench      (runs per build: BENCH_STARTUP_REPEATS, default 15;
 *   more flags for every run: BENCH_STARTUP_ARGS)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BENCH_DATA, multiFileOrderLogs, REPO_ROOT } from './data.js';
import { waitForReady } from './follow-latency.js';

const TIME = '/usr/bin/time';

export interface StartupRun {
  /** Spawn → first byte of the record in the sink. */
  readonly firstRecordMs: number;
  /** Spawn → exit. */
  readonly exitMs: number;
  /** Peak resident set size, MiB (undefined without /usr/bin/time). */
  readonly peakRssMiB: number | undefined;
}

export interface StartupResult {
  readonly build: string;
  readonly runs: StartupRun[];
}

/** BENCH_STARTUP_ARGS: more CLI flags for every run (space-separated), e.g. `--workers 1`. */
const extraArgs = (): string[] => (process.env.BENCH_STARTUP_ARGS ?? '').split(' ').filter((a) => a !== '');

interface TimedExit {
  readonly exitMs: number;
  readonly peakRssMiB: number | undefined;
}

/**
 * Spawns `cli` (under /usr/bin/time when there is one, for the peak RSS) and
 * resolves at exit; `onSpawn` is given the performance.now() the times count from.
 */
function spawnTimed(cli: string[], onSpawn: (t0: number) => void = () => {}): Promise<TimedExit> {
  const measureRss = existsSync(TIME);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    onSpawn(t0);
    const child = spawn(measureRss ? TIME : cli[0]!, measureRss ? ['-f', 'peak-rss-kb %M', ...cli] : cli.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      const exitMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${cli.join(' ')}: exit ${code}: ${stderr}`));
      const kb = /peak-rss-kb (\d+)/.exec(stderr)?.[1];
      resolve({ exitMs, peakRssMiB: kb === undefined ? undefined : Number(kb) / 1024 });
    });
  });
}

/** `node -e 0`: the floor of spawn → exit and of peak RSS. */
async function runBareNode(): Promise<StartupRun> {
  const exit = await spawnTimed([process.execPath, '-e', '0']);
  return { firstRecordMs: exit.exitMs, ...exit };
}

/** `--no-metrics`, or the CLI default's metrics server on a port of its own (`--metrics-port 0`). */
const NO_METRICS = ['--no-metrics'];
const WITH_METRICS = ['--metrics-port', '0'];

async function runOnce(root: string, input: string, out: string, metrics = NO_METRICS): Promise<StartupRun> {
  // An empty file to watch; the default --sink-mode append writes into it.
  writeFileSync(out, '');
  const cli = [process.execPath, join(root, 'bin/ordertail.js'), 'run', '--once', '--input', input, '--sink', `file:${out}`, ...metrics, '--log-level', 'warn', ...extraArgs()];
  let t0 = 0;
  let firstRecordMs: number | undefined;
  const watcher = watch(out, () => {
    if (firstRecordMs === undefined && statSync(out).size > 0) firstRecordMs = performance.now() - t0;
  });
  try {
    const exit = await spawnTimed(cli, (spawnedAt) => (t0 = spawnedAt));
    // A write that the watch reported late (or not at all) still counts, at exit.
    if (firstRecordMs === undefined && statSync(out).size > 0) firstRecordMs = exit.exitMs;
    if (firstRecordMs === undefined) throw new Error(`${root}: no record in the sink`);
    return { firstRecordMs, ...exit };
  } finally {
    watcher.close();
  }
}

/**
 * A follower with the CLI defaults (checkpoints in a state directory of its
 * own, the metrics server): spawn → its "ready" log line, then SIGTERM.
 * Its inputs: an empty file, or that file and a glob of 40 MB of history in 8
 * files (a follower started on a log directory).
 */
async function followerReady(root: string, inputs: readonly string[], stateRoot: string): Promise<number> {
  const state = mkdtempSync(join(stateRoot, 'state-'));
  const cli = [join(root, 'bin/ordertail.js'), 'run', ...inputs.flatMap((i) => ['--input', i]), '--sink', 'stdout', ...WITH_METRICS, ...extraArgs()];
  const child = spawn(process.execPath, cli, { env: { ...process.env, ORDERTAIL_STATE_DIR: state }, stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = new Promise((resolve) => child.once('close', resolve));
  const readyMs = await waitForReady(child, 30_000);
  child.kill('SIGTERM');
  await closed;
  rmSync(state, { recursive: true, force: true });
  if (readyMs === undefined) throw new Error(`${root}: the follower logged no ready line within 30 s`);
  return readyMs;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function run(opts: { repeats?: number } = {}): Promise<StartupResult[]> {
  const dir = join(BENCH_DATA, 'startup');
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'one.ndjson');
  writeFileSync(input, '{"id":"a"}\n');
  const out = join(dir, 'out.ndjson');
  const repeats = opts.repeats ?? Number(process.env.BENCH_STARTUP_REPEATS ?? 15);
  const builds: [string, string][] = [['this build', REPO_ROOT]];
  if (process.env.BENCH_BASELINE) builds.unshift([`baseline (${process.env.BENCH_BASELINE})`, process.env.BENCH_BASELINE]);
  const results: StartupResult[] = builds.map(([build]) => ({ build, runs: [] }));
  // One unmeasured run per build first: the page cache then holds both builds' files.
  for (const [, root] of builds) await runOnce(root, input, out);
  const bareNode: StartupResult = { build: 'node -e 0', runs: [] };
  // With the metrics server (the CLI default): a one-record run, and a follower's start-up.
  const withMetrics = builds.map(() => ({ firstRecordMs: [] as number[], readyMs: [] as number[], directoryReadyMs: [] as number[] }));
  const live = join(dir, 'live.ndjson');
  writeFileSync(live, '');
  const history = multiFileOrderLogs(40, 8);
  for (let i = 0; i < repeats; i++) {
    for (const [b, [, root]] of builds.entries()) {
      results[b]!.runs.push(await runOnce(root, input, out));
      withMetrics[b]!.firstRecordMs.push((await runOnce(root, input, out, WITH_METRICS)).firstRecordMs);
      withMetrics[b]!.readyMs.push(await followerReady(root, [live], dir));
      withMetrics[b]!.directoryReadyMs.push(await followerReady(root, [live, join(dirname(history.paths[0]!), '*.ndjson')], dir));
    }
    bareNode.runs.push(await runBareNode());
  }
  const base = results[0]!;
  const med = (r: StartupResult, f: (x: StartupRun) => number | undefined): number | undefined => {
    const xs = r.runs.map(f).filter((x): x is number => x !== undefined);
    return xs.length > 0 ? median(xs) : undefined;
  };
  const ratio = (r: StartupResult, f: (x: StartupRun) => number | undefined): string => {
    const a = med(r, f);
    const b = med(base, f);
    return a === undefined || b === undefined ? '' : (a / b).toFixed(3);
  };
  console.log(`\none-record run (run --once, file sink, --no-metrics): medians of ${repeats}, builds interleaved; ratios against the first row`);
  console.table(
    results.map((r) => ({
      build: r.build,
      'first record ms': med(r, (x) => x.firstRecordMs)!.toFixed(0),
      'best ms': Math.min(...r.runs.map((x) => x.firstRecordMs)).toFixed(0),
      'x (first record)': ratio(r, (x) => x.firstRecordMs),
      'exit ms': med(r, (x) => x.exitMs)!.toFixed(0),
      'peak RSS MiB': med(r, (x) => x.peakRssMiB)?.toFixed(1) ?? '',
      'x (peak RSS)': ratio(r, (x) => x.peakRssMiB),
    })),
  );
  const ratioOf = (xs: number[], base: number[]): string => (median(xs) / median(base)).toFixed(3);
  console.log(`with the metrics server on, as by default (--metrics-port 0: a free port): medians of ${repeats}, same rounds; the follower has the CLI defaults otherwise (checkpoints on), one empty input, or that and a glob of 40 MB in 8 files`);
  console.table(
    builds.map(([build], b) => ({
      build,
      'one record: first record ms': median(withMetrics[b]!.firstRecordMs).toFixed(0),
      'x (first record)': ratioOf(withMetrics[b]!.firstRecordMs, withMetrics[0]!.firstRecordMs),
      'follower: spawn → ready ms': median(withMetrics[b]!.readyMs).toFixed(0),
      'x (ready)': ratioOf(withMetrics[b]!.readyMs, withMetrics[0]!.readyMs),
      'follower of a directory: spawn → ready ms': median(withMetrics[b]!.directoryReadyMs).toFixed(0),
      'x (directory)': ratioOf(withMetrics[b]!.directoryReadyMs, withMetrics[0]!.directoryReadyMs),
    })),
  );
  const bareRss = med(bareNode, (x) => x.peakRssMiB);
  console.log(`node itself (${process.version}, node -e 0, same rounds): spawn → exit ${med(bareNode, (x) => x.exitMs)!.toFixed(0)} ms, peak RSS ${bareRss?.toFixed(1) ?? '–'} MiB`);
  // Node 24 reads the file when TLS first needs it; Node 20 as it starts.
  if (process.env.NODE_EXTRA_CA_CERTS && process.versions.node.startsWith('20.')) {
    console.log(`NODE_EXTRA_CA_CERTS is set (${process.env.NODE_EXTRA_CA_CERTS}): Node 20 loads it as every process starts; to see start-up without it: env -u NODE_EXTRA_CA_CERTS node dist/bench/startup.js`);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
