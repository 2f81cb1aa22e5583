/**
 * A config reload's pause in emitting, measured from outside the engine
 * (issue 20: ≤ 5 ms). A writer appends records stamped with the monotonic
 * clock at --rate records/s (1 ms batches) to a file the CLI follows, its sink
 * stdout; every --every-ms the bench rewrites the CLI's --config file with the
 * next reload of a cycle (a dedup window, an input added and removed, the
 * worker count, the sink switched to a file and back, …). For every record on
 * stdout it knows when it arrived and how late it was; a reload's pause shows
 * as the worst latency of the records that arrive in the --window-ms after
 * the reload was saved, against the same statistic for windows of the same
 * length half way between reloads, in the same run. The engine's own figure
 * (`pauseMs` of its reload line: how long applying held its thread) is
 * printed beside it.
 *
 *   node dist/bench/reload-pause.js [--rate 20000] [--seconds 24] [--every-ms 600] [--window-ms 300]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, REPO_ROOT } from './data.js';
import { monoNs, Receiver } from './follow-latency.js';

type Config = Record<string, unknown>;

function arg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

const quantile = (values: number[], q: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const ms = (us: number): string => (Number.isNaN(us) ? '–' : (us / 1000).toFixed(2));

export async function run(argv: string[] = []): Promise<void> {
  const rate = arg(argv, '--rate', 20_000);
  const seconds = arg(argv, '--seconds', 24);
  const everyMs = arg(argv, '--every-ms', 600);
  const windowMs = arg(argv, '--window-ms', 300);
  mkdirSync(BENCH_DATA, { recursive: true });
  const dir = mkdtempSync(join(BENCH_DATA, 'reload-'));
  const live = join(dir, 'live.ndjson');
  writeFileSync(live, '');
  mkdirSync(join(dir, 'extra'));
  writeFileSync(join(dir, 'extra', 'small.ndjson'), Array.from({ length: 200 }, (_, i) => `{"id":"x${i}","timestamp":${Date.now()}}\n`).join(''));
  const configPath = join(dir, 'ordertail.json');
  const base: Config = { input: [live], sink: 'stdout', checkpoint: join(dir, 'cp'), workers: 2, dedupWindow: '60s', logLevel: 'info' };
  const cycle: [string, Config][] = [
    ['dedupWindow', { ...base, dedupWindow: '61s' }],
    ['dedupWindow', base],
    ['input added', { ...base, input: [live, join(dir, 'extra', '*.ndjson')] }],
    ['input removed', base],
    ['workers', { ...base, workers: 1 }],
    ['workers', base],
    ['checkpointInterval', { ...base, checkpointInterval: '2s' }],
    ['checkpointInterval', base],
    ['sink → file', { ...base, sink: `file:${join(dir, 'switched.ndjson')}` }],
    ['sink → stdout', base],
  ];
  const save = (config: Config): void => {
    writeFileSync(`${configPath}.tmp`, JSON.stringify(config));
    renameSync(`${configPath}.tmp`, configPath);
  };
  save(base);
  const engine = spawn(process.execPath, [join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--config', configPath, '--no-metrics'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  engine.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const receiver = new Receiver(engine.stdout!);
  // Its per-second histograms count from here (from 0 it would make one per second of the machine's uptime).
  receiver.origin = monoNs();
  const arrivals: number[] = [];
  const latencies: number[] = [];
  receiver.onRecord = (arrivedNs, us) => {
    arrivals.push(arrivedNs);
    latencies.push(us);
  };
  const deadline = Date.now() + 60_000;
  while (!/"ready":true/.test(stderr)) {
    if (Date.now() > deadline) throw new Error(`the engine did not get ready: ${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const writer = spawn(process.execPath, [join(REPO_ROOT, 'dist/bench/latency-writer.js'), live, String(rate), String(seconds), '1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const reloads: { kind: string; atNs: number }[] = [];
  // The first second warms the engine up; reloads after it, until a second before the end.
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; (i + 1) * everyMs < (seconds - 2) * 1000; i++) {
    const [kind, config] = cycle[i % cycle.length]!;
    reloads.push({ kind, atNs: monoNs() });
    save(config);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  save(base);
  await new Promise((r) => writer.once('exit', r));
  await new Promise((r) => setTimeout(r, 1500));
  engine.kill('SIGTERM');
  await new Promise((r) => engine.once('exit', r));

  /** The worst latency (µs) of the records arriving in [fromNs, fromNs + windowMs). */
  const worstIn = (fromNs: number): number => {
    const toNs = fromNs + windowMs * 1e6;
    let worst = Number.NaN;
    for (let i = 0; i < arrivals.length; i++) if (arrivals[i]! >= fromNs && arrivals[i]! < toNs && !(latencies[i]! <= worst)) worst = latencies[i]!;
    return worst;
  };
  const reloadLines = stderr.split('\n').filter((l) => l.includes('"reload"')).map((l) => JSON.parse(l) as { reload: string; pauseMs?: number; applied?: string[] });
  const switches = [...stderr.matchAll(/sink switched: \S+ → \S+/g)].length;
  const quiet = reloads.map((r) => worstIn(r.atNs + (everyMs / 2) * 1e6));
  const rows: Record<string, string | number>[] = [];
  const kinds = [...new Set(reloads.map((r) => r.kind))];
  for (const kind of kinds) {
    const at = reloads.flatMap((r, i) => (r.kind === kind ? [i] : []));
    const after = at.map((i) => worstIn(reloads[i]!.atNs));
    const pauses = at.map((i) => reloadLines[i]?.pauseMs).filter((p): p is number => p !== undefined);
    rows.push({
      reload: kind,
      count: at.length,
      'worst latency after it, median / max ms': `${ms(quantile(after.filter((v) => !Number.isNaN(v)), 0.5))} / ${ms(Math.max(...after.filter((v) => !Number.isNaN(v))))}`,
      'engine pauseMs, median / max': pauses.length ? `${quantile(pauses, 0.5).toFixed(3)} / ${Math.max(...pauses).toFixed(3)}` : '–',
    });
  }
  rows.push({ reload: 'none (half way between reloads)', count: quiet.length, 'worst latency after it, median / max ms': `${ms(quantile(quiet.filter((v) => !Number.isNaN(v)), 0.5))} / ${ms(Math.max(...quiet.filter((v) => !Number.isNaN(v))))}`, 'engine pauseMs, median / max': '' });
  const applied = reloadLines.filter((l) => l.reload === 'applied').length;
  console.log(`\nconfig reload pause, ${rate} records/s, a reload every ${everyMs} ms (${reloads.length}, ${applied} applied), worst latency of the records arriving in the ${windowMs} ms after each, against windows half way between`);
  console.table(rows);
  console.log(`sink switches made: ${switches} (each once a checkpoint naming the new sink had landed; records went on to the old one until then)`);
  console.log(`records received on stdout: ${receiver.received}; overall p99 ${ms(quantile(latencies, 0.99))} ms`);
  rmSync(dir, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));
