/**
 * What writing a follower's checkpoint files costs the machine, through the
 * engine's own CheckpointStore: a 73 MiB snapshot copy (the default follow
 * table, 4 Mi slots) and a 24 MB journal (5 s of keys at 300k/s), committed
 * again and again as a follower at 300k records/s does (each commit's files
 * replace the last ones'). Two stores, alternating commits:
 *
 *   cached   the files are written whole and fsynced, their pages left in the
 *            page cache (before 2026-12-04);
 *   dropped  written 8 MiB at a time, each step synced and dropped from the
 *            page cache (the addon's writeBackAndDrop; the engine's default).
 *
 * Per commit: the process's CPU time (user + system, all threads: the writes
 * run on libuv's pool) and the wall time to the manifest's rename. The CPU is
 * what a commit takes from the cores the live lane runs on.
 *
 *   node dist/bench/checkpoint-writes.js [--commits 16]
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore } from '../src/checkpoint/store.js';
import type { CheckpointState } from '../src/checkpoint/manifest.js';
import { nativeWriteBackAndDrop } from '../src/util/write-back.js';
import { BENCH_DATA } from './data.js';

const SNAPSHOT_BYTES = 73 * 1024 * 1024;
const JOURNAL_BYTES = 24 * 1024 * 1024;

interface Sample {
  cpuMs: number;
  wallMs: number;
}

function state(generation: number): CheckpointState {
  return { generation, writtenAtMs: Date.now(), sink: { kind: 'none' }, deadLetter: undefined, dedup: { format: 'raw', file: '', byteLength: 0, windowMs: 60_000, capacity: 1 << 22 }, files: [] };
}

async function commitOnce(store: CheckpointStore, generation: number, snapshot: Uint8Array, journal: Uint8Array): Promise<Sample> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  // A full snapshot every other commit, a journal in between: a 300k/s follower's pattern.
  const writes = generation % 2 === 0 ? { base: snapshot, baseIsCopy: true } : { journal: [journal] };
  await store.commit(state(generation), writes, async () => {});
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - t0 };
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;

export async function run(commits = 16): Promise<void> {
  const writeBack = nativeWriteBackAndDrop();
  if (!writeBack) {
    console.log('checkpoint-writes: the native addon (writeBackAndDrop) is not built: nothing to compare (npm run build:native)');
    return;
  }
  const root = join(BENCH_DATA, 'checkpoint-writes');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const snapshot = randomFillSync(new Uint8Array(SNAPSHOT_BYTES));
  const journal = randomFillSync(new Uint8Array(JOURNAL_BYTES));
  const stores = { cached: new CheckpointStore(join(root, 'cached')), dropped: new CheckpointStore(join(root, 'dropped'), writeBack) };
  const samples: Record<keyof typeof stores, { snapshot: Sample[]; journal: Sample[] }> = { cached: { snapshot: [], journal: [] }, dropped: { snapshot: [], journal: [] } };
  for (let generation = 1; generation <= commits * 2; generation++) {
    const order = (generation & 2) === 0 ? (['cached', 'dropped'] as const) : (['dropped', 'cached'] as const);
    for (const name of order) {
      const sample = await commitOnce(stores[name], generation, snapshot, journal);
      samples[name][generation % 2 === 0 ? 'snapshot' : 'journal'].push(sample);
    }
  }
  rmSync(root, { recursive: true, force: true });
  const rows = [];
  for (const kind of ['snapshot', 'journal'] as const) {
    const baseline = samples.cached[kind].map((s) => s.cpuMs).sort((a, b) => a - b);
    for (const name of ['cached', 'dropped'] as const) {
      const cpu = samples[name][kind].map((s) => s.cpuMs).sort((a, b) => a - b);
      const wall = samples[name][kind].map((s) => s.wallMs).sort((a, b) => a - b);
      rows.push({
        file: kind === 'snapshot' ? 'snapshot, 73 MiB' : 'journal, 24 MB',
        store: name,
        commits: cpu.length,
        'CPU ms median': pct(cpu, 0.5).toFixed(1),
        'CPU ms p90': pct(cpu, 0.9).toFixed(1),
        'CPU ms max': cpu.at(-1)!.toFixed(1),
        'CPU ms total': cpu.reduce((a, b) => a + b, 0).toFixed(0),
        'x total CPU': (cpu.reduce((a, b) => a + b, 0) / baseline.reduce((a, b) => a + b, 0)).toFixed(2),
        'wall ms median': pct(wall, 0.5).toFixed(1),
        'wall ms max': wall.at(-1)!.toFixed(1),
      });
    }
  }
  console.log('\ncheckpoint files: CPU and wall time per commit, stores alternated; ratio against the cached store');
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--commits');
  await run(i >= 0 ? Number(process.argv[i + 1]) : 16);
}
