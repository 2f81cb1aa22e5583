/**
 * Follow mode, append → emit latency measured outside the engine: a writer
 * process stamps process.hrtime into each record at ~20,000 records/s; this
 * process reads the follower's stdout and subtracts. ordertail and a naive
 * fs.watch follower run one after the other in the same run.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as hdr from 'hdr-histogram-js';
import { BENCH_DATA, REPO_ROOT } from './data.js';
import { mkdirSync } from 'node:fs';

export interface LatencyResult {
  name: string;
  received: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

async function measure(name: string, followerArgs: string[], file: string, rate: number, seconds: number): Promise<LatencyResult> {
  writeFileSync(file, '');
  const follower = spawn(process.execPath, followerArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const warmupRecords = rate; // the first second warms up the JIT and is not counted
  let received = 0;
  const total = rate * seconds;
  const done = new Promise<void>((resolve) => {
    const rl = createInterface({ input: follower.stdout! });
    rl.on('line', (line) => {
      const now = process.hrtime.bigint();
      const at = line.indexOf('"t0":"');
      if (at < 0) return;
      const stamp = BigInt(line.slice(at + 6, line.indexOf('"', at + 6)));
      received++;
      if (received > warmupRecords) histogram.recordValue(Math.max(1, Number((now - stamp) / 1000n)));
      if (received === total) resolve();
    });
  });
  await new Promise((r) => setTimeout(r, 1500)); // follower start-up
  const writer = spawn(process.execPath, [join(REPO_ROOT, 'dist/bench/latency-writer.js'), file, String(rate), String(seconds)], { stdio: ['ignore', 'ignore', 'inherit'] });
  await Promise.race([done, new Promise((r) => setTimeout(r, (seconds + 20) * 1000))]);
  writer.kill();
  follower.kill('SIGTERM');
  const ms = (v: number): number => Math.round(v) / 1000;
  return {
    name,
    received,
    p50: ms(histogram.getValueAtPercentile(50)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}

export async function run(opts: { rate?: number; seconds?: number } = {}): Promise<LatencyResult[]> {
  const rate = opts.rate ?? 20_000;
  const seconds = opts.seconds ?? 10;
  mkdirSync(BENCH_DATA, { recursive: true });
  const file = join(BENCH_DATA, 'latency.ndjson');
  const engine = [join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--input', file, '--workers', '2'];
  // A fresh checkpoint directory: the run must not resume from an earlier one.
  const checkpointDir = (): string => {
    const dir = join(BENCH_DATA, 'latency-checkpoint');
    rmSync(dir, { recursive: true, force: true });
    return dir;
  };
  const results = [
    await measure('naive fs.watch follower', [join(REPO_ROOT, 'dist/bench/naive-follower.js'), file], file, rate, seconds),
    await measure('ordertail follow, 2 workers, checkpoints every 5 s (default)', [...engine, '--checkpoint', checkpointDir()], file, rate, seconds),
    await measure('ordertail follow, 2 workers, --no-checkpoint', [...engine, '--no-checkpoint'], file, rate, seconds),
  ];
  rmSync(join(BENCH_DATA, 'latency-checkpoint'), { recursive: true, force: true });
  rmSync(file, { force: true });
  const base = results[0]!;
  console.log(`\nfollow mode append → emit latency at ${rate} records/s for ${seconds} s (ms; first second not counted)`);
  console.table(
    results.map((r) => ({
      case: r.name,
      received: r.received,
      p50: r.p50,
      p99: r.p99,
      'p99.9': r.p999,
      max: r.max,
      'p99 vs baseline': (r.p99 / base.p99).toFixed(2),
    })),
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
