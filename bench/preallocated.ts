/**
 * A writer that preallocates its log and stores records over the NULs in
 * place (a memory-mapped appender, as log4j2's MemoryMappedFileAppender:
 * regions of 32 MiB, no inotify event for its stores) against one that
 * appends: store/append → the record on the follower's stdout, every record
 * counted, and the follower's CPU. The baseline is the appending writer in
 * the same run, so the ratio says what following preallocated space costs
 * (its stores are found by looking every UNWRITTEN_LOOK_MS: sources/unwritten-space.ts).
 *
 *   node dist/bench/preallocated.js [--rate 20000] [--seconds 5] [--rounds 2] [--region-mb 32]
 *
 * The mmap writer is bench/mmap-writer.py (Node cannot map a file): stamps
 * are CLOCK_MONOTONIC in both, as bench/latency-writer.ts takes them.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, REPO_ROOT } from './data.js';
import { monoNs, Receiver, waitForReady } from './follow-latency.js';
import { processCpuSeconds } from './proc.js';

interface Row {
  writer: string;
  round: number;
  received: string;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  cpuS: number;
}

async function measure(kind: 'append' | 'mmap', round: number, rate: number, seconds: number, regionBytes: number): Promise<Row> {
  mkdirSync(BENCH_DATA, { recursive: true });
  const dir = mkdtempSync(join(BENCH_DATA, 'prealloc-'));
  const live = join(dir, 'live.ndjson');
  writeFileSync(live, '');
  const engine = spawn(process.execPath, [join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--input', live, '--workers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ORDERTAIL_STATE_DIR: join(dir, 'state') },
  });
  const receiver = new Receiver(engine.stdout!);
  await waitForReady(engine, 60_000);
  receiver.origin = monoNs();
  const writer =
    kind === 'append'
      ? spawn(process.execPath, [join(REPO_ROOT, 'dist/bench/latency-writer.js'), live, String(rate), String(seconds), '1'], { stdio: ['ignore', 'ignore', 'inherit'] })
      : spawn('python3', [join(REPO_ROOT, 'bench/mmap-writer.py'), live, String(regionBytes), String(rate), String(rate * seconds)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const total = rate * seconds;
  const cpuBefore = processCpuSeconds(engine.pid);
  await receiver.until(total, (seconds + 60) * 1000);
  const cpuS = processCpuSeconds(engine.pid) - cpuBefore;
  writer.kill();
  let summary = '';
  engine.stderr!.on('data', (d: Buffer) => {
    const m = /"msg":"(stopped: [^"]*)/.exec(d.toString());
    if (m) summary = m[1]!;
  });
  engine.kill('SIGTERM');
  await new Promise((r) => engine.once('exit', r));
  if (process.env.BENCH_SUMMARY) console.error(`${kind}: ${summary}`);
  rmSync(dir, { recursive: true, force: true });
  if (process.env.BENCH_PER_SECOND) console.error(`${kind} p99 per second: ${receiver.perSecond.map((x) => (x.totalCount ? (x.getValueAtPercentile(99) / 1000).toFixed(1) : '-')).join(' ')}`);
  const h = receiver.histogram;
  const ms = (us: number): number => Math.round(us) / 1000;
  const row: Row = {
    writer: kind === 'append' ? 'appends (O_APPEND writes)' : `stores into mmap'd ${regionBytes >> 20} MiB regions`,
    round,
    received: `${receiver.received}/${total}`,
    p50: ms(h.getValueAtPercentile(50)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    cpuS: Math.round(cpuS * 100) / 100,
  };
  receiver.destroy();
  return row;
}

function argValue(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

export async function run(argv: string[] = []): Promise<Row[]> {
  const rate = argValue(argv, '--rate', 20_000);
  const seconds = argValue(argv, '--seconds', 5);
  const rounds = argValue(argv, '--rounds', 2);
  const regionBytes = argValue(argv, '--region-mb', 32) * 1024 * 1024;
  const rows: Row[] = [];
  // Alternated: a slow spell of the shared machine costs each writer a round, not one writer all of them.
  for (let round = 1; round <= rounds; round++) {
    const order: ('append' | 'mmap')[] = round % 2 === 1 ? ['append', 'mmap'] : ['mmap', 'append'];
    for (const kind of order) rows.push(await measure(kind, round, rate, seconds, regionBytes));
  }
  console.log(`\n${rate} records/s for ${seconds} s, CLI defaults (--sink stdout), every record counted; latency ms, the follower's CPU-s`);
  console.table(rows);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const of = (kind: string, pick: (r: Row) => number): number => median(rows.filter((r) => r.writer.startsWith(kind)).map(pick));
  console.log(
    `medians: p99 ${of('stores', (r) => r.p99)} ms against ${of('appends', (r) => r.p99)} ms (×${(of('stores', (r) => r.p99) / of('appends', (r) => r.p99)).toFixed(2)}), ` +
      `CPU ${of('stores', (r) => r.cpuS)} s against ${of('appends', (r) => r.cpuS)} s (×${(of('stores', (r) => r.cpuS) / of('appends', (r) => r.cpuS)).toFixed(2)})`,
  );
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await run(process.argv.slice(2));
