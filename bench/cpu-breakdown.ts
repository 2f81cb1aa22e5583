/**
 * Where the CPU of a `--once` replay goes, by stage and by thread (issue 17,
 * item 1): `perf record` (cpu-clock, call graphs, on-CPU time only, so a
 * thread that waits or is descheduled costs nothing, unlike `--cpu-prof`,
 * whose samples measure wall time) of
 *   run --once --input '<multi-file logs>/*.ndjson' --sink file:OUT --no-metrics
 * over bench/data.ts multiFileOrderLogs, then each sample filed under the
 * first stage whose pattern matches its call chain (native, kernel and JIT
 * frames: node runs with --perf-basic-prof).
 *   node dist/bench/cpu-breakdown.js [MB, default 1000] [files, default 12]
 * Needs `perf` (linux-perf) with perf_event_paranoid ≤ 2.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, multiFileOrderLogs, REPO_ROOT } from './data.js';

const HZ = 997;

/** First match wins: the specific stages before the generic ones (a write's chain also holds the event loop). */
const STAGES: [string, RegExp][] = [
  ['start-up: bootstrap, module loading, compiling', /compileSourceTextModule|wrapSafe|compileForInternalLoader|InitializeOncePerProcess|InitializeNodeWithArgs|NewRootCertStore|dlopen|_dl_|ModuleWrap|Compiler::Compile|parsing::Parse|Parser::|ScriptCompiler|LoadEnvironment|CreateMainEnvironment|Bootstrap/],
  ['dedup: batch insert into the table', /dedup::insert_slots|dedupSlots|insertSlots|insertAt/],
  ['parse: scanner, UTF-8 check, line index', /parseChunk|ordertail_native::(scan|fields|record|event_time|hash|framing|index)|validate_utf8/],
  ['write: fdatasync and page-cache drop', /fdatasync|file_write_and_wait|fadvise|sync_file_range|writeback|invalidate_mapping/],
  ['write: writev into the page cache', /do_writev|ksys_write|ksys_pwrite|vfs_write|writeBuffers|generic_perform_write/],
  ['read: pread from the page cache', /ksys_pread64|ksys_read|filemap_read|vfs_read|#copy\b|copySegment/],
  ['ring: drain and per-range results', /RingConsumer|pushMany|\bdrain\b|\bring\b|RangeResults/],
  ['emit: per-record work, staging', /emitFrom|flushSegments|Staging|resumeAfter/],
  ['wake/wait: futex, Atomics, messages, epoll', /futex|Atomics|atomicsWait|epoll|MessagePort|postMessage|postTask|__schedule|finish_task_switch/],
  ['JIT: optimising compiler', /v8::internal::compiler::|OptimizingCompile|Maglev|Builtins_CompileLazy/],
  ['GC', /Heap::|Scavenge|MarkCompact|Sweeper|ConcurrentMarking|GCTracer|MinorMC/],
];
const THREADS = ['main', 'parse workers', 'libuv pool', 'V8 platform', 'other'] as const;
type Thread = (typeof THREADS)[number];

interface Sample {
  readonly tid: number;
  readonly chain: string;
}

function samplesOf(script: string): Sample[] {
  return script
    .split('\n\n')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      const [head, ...frames] = s.split('\n').filter((l) => l.trim() !== '');
      return { tid: Number(head!.trim()), chain: frames.map((f) => f.trim().replace(/^[0-9a-f]+ /, '')).join('\n') };
    });
}

/** A thread's kind from any of its samples (the main thread's id is the process id, the lowest). */
function threadKinds(samples: Sample[]): Map<number, Thread> {
  const pid = Math.min(...samples.map((s) => s.tid));
  const kinds = new Map<number, Thread>([[pid, 'main']]);
  for (const s of samples) {
    if (kinds.has(s.tid)) continue;
    if (s.chain.includes('node::worker::Worker::Run')) kinds.set(s.tid, 'parse workers');
    else if (s.chain.includes('PlatformWorkerThread')) kinds.set(s.tid, 'V8 platform');
    else if (/(^|\n)worker \(/.test(s.chain)) kinds.set(s.tid, 'libuv pool');
  }
  return kinds;
}

export function run(megabytes = 1000, files = 12): void {
  const logs = multiFileOrderLogs(megabytes, files);
  const out = join(BENCH_DATA, 'cpu-breakdown-out.ndjson');
  const data = join(BENCH_DATA, 'cpu-breakdown.perf');
  rmSync(out, { force: true });
  const cli = [join(REPO_ROOT, 'bin/ordertail.js'), 'run', '--once', '--input', join(logs.paths[0]!, '..', '*.ndjson'), '--sink', `file:${out}`, '--no-metrics', '--log-level', 'warn'];
  const t0 = performance.now();
  const rec = spawnSync('perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(HZ), '-g', '-o', data, '--', process.execPath, '--perf-basic-prof', ...cli], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (rec.status !== 0) throw new Error(`perf record failed (${rec.status}): ${rec.stderr}`);
  const script = spawnSync('perf', ['script', '-i', data, '-F', 'tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr}`);
  rmSync(out, { force: true });
  rmSync(data, { force: true });
  const samples = samplesOf(script.stdout);
  const kinds = threadKinds(samples);
  const counts = new Map<string, Record<Thread, number>>();
  const row = (stage: string): Record<Thread, number> => {
    let r = counts.get(stage);
    if (!r) counts.set(stage, (r = { main: 0, 'parse workers': 0, 'libuv pool': 0, 'V8 platform': 0, other: 0 }));
    return r;
  };
  for (const s of samples) {
    const stage = STAGES.find(([, re]) => re.test(s.chain))?.[0] ?? 'other';
    row(stage)[kinds.get(s.tid) ?? 'other']++;
  }
  const gb = logs.bytes / 1e9;
  const cpu = (n: number): string => (n / HZ / gb).toFixed(2);
  const total = samples.length;
  console.log(
    `\nCPU of run --once over ${(logs.bytes / 1e6).toFixed(0)} MB in ${files} files (file sink, default flags), perf cpu-clock at ${HZ} Hz: ` +
      `${(total / HZ).toFixed(2)} CPU-s in ${seconds.toFixed(2)} s wall under perf; CPU-s per GB by stage and thread`,
  );
  const rows = [...counts].sort((a, b) => sum(b[1]) - sum(a[1]));
  console.table(
    rows.map(([stage, r]) => ({
      stage,
      ...Object.fromEntries(THREADS.map((t) => [t, r[t] > 0 ? cpu(r[t]) : ''])),
      'CPU-s/GB': cpu(sum(r)),
      share: `${((100 * sum(r)) / total).toFixed(1)} %`,
    })),
  );
}

const sum = (r: Record<Thread, number>): number => THREADS.reduce((a, t) => a + r[t], 0);

if (import.meta.url === `file://${process.argv[1]}`) run(Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 12));
