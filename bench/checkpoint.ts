/**
 * What checkpoints cost, in the same run:
 *
 * (a) Throughput: the engine (library, in this process, 2 workers, native parser
 *     when built, file sink) over the cached ≥ 200 MB order log, checkpoints off
 *     against on (`checkpoint: dir`, `checkpointInterval: '1s'`), alternating
 *     rounds, medians. Two ways: `once` (the timing includes the checkpoint
 *     committed at stop; `once` commits no periodic ones), and follow mode until
 *     every record is out, then stop() (periodic checkpoints while reading, plus the
 *     one at stop), at 1 s and at 200 ms.
 *
 * (b) Restart: a checkpoint whose dedup table has 16,777,216 slots and ~14 M live
 *     entries (filled through DedupTable, committed through CheckpointStore next
 *     to the file offsets of a real run), one record appended to the input, then
 *     the time from spawning `node bin/ordertail.js run ... --checkpoint DIR` to
 *     that record appearing in the sink file. Baselines, same rounds: spawning
 *     `node -e 0` to its exit, and the same CLI start with --no-checkpoint (table
 *     allocated empty, input read from 0). The snapshot is in the page cache.
 *
 * `node dist/bench/checkpoint.js` (BENCH_MB, CHECKPOINT_ROUNDS, CHECKPOINT_LIVE).
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, type EngineOptions, type EngineStats } from '../src/index.js';
import { CheckpointStore } from '../src/checkpoint/store.js';
import { DedupTable, INSERT_NEW } from '../src/dedup/table.js';
import { resolveParser } from '../src/parser/select.js';
import { BENCH_DATA, orderLog, REPO_ROOT } from './data.js';

const CLI = join(REPO_ROOT, 'bin/ordertail.js');
const RESTART_CAPACITY = 16_777_216;
const WINDOW_MS = 60_000;

export interface CheckpointCostRow {
  mode: 'once' | 'follow';
  interval: string;
  offMs: number;
  onMs: number;
  /** Median of the per-round on/off ratios (each round runs both, back to back). */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** The same for CPU time (all threads of this process): less sensitive to other load on the machine, blind to fsync waits. */
  cpuRatio: number;
  checkpointsPerRun: number;
}

export interface RestartResult {
  capacity: number;
  liveEntries: number;
  snapshotBytes: number;
  restartMs: number;
  freshMs: number;
  nodeMs: number;
  ratio: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One engine run over `input`; `once`, or follow until `expectRead` records were read and emitted, then stop(). */
async function engineRun(options: EngineOptions, expect?: { read: number; emitted: number }): Promise<{ ms: number; cpuMs: number; stats: EngineStats }> {
  const engine = new Engine(options);
  const errors: Error[] = [];
  engine.on('error', (e) => errors.push(e));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await engine.start();
  if (options.once) {
    await engine.finished();
  } else {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = engine.stats();
      if (s.recordsRead >= expect!.read && s.recordsEmitted >= expect!.emitted) break;
      if (errors.length || Date.now() > deadline) break;
      await sleep(2);
    }
  }
  await engine.stop();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (errors.length) throw errors[0];
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, stats: engine.stats() };
}

export async function checkpointCost(opts: { megabytes?: number; rounds?: number } = {}): Promise<CheckpointCostRow[]> {
  const input = orderLog(opts.megabytes ?? 200);
  const bytes = statSync(input).size;
  const rounds = opts.rounds ?? 9;
  const out = join(BENCH_DATA, 'checkpoint-cost-out.ndjson');
  const dir = join(BENCH_DATA, 'checkpoint-cost');
  const parser = resolveParser('auto').name;
  const base = { input: [input], sink: `file:${out}`, workers: 2, parser } satisfies EngineOptions;
  const run = async (mode: 'once' | 'follow', interval: string | undefined, expect?: { read: number; emitted: number }): Promise<{ ms: number; cpuMs: number; stats: EngineStats }> => {
    rmSync(out, { force: true });
    rmSync(dir, { recursive: true, force: true });
    return engineRun({ ...base, once: mode === 'once', ...(interval ? { checkpoint: dir, checkpointInterval: interval } : {}) }, expect);
  };

  // Warm-up (JIT, page cache), and the record counts follow mode waits for.
  const warm = await run('once', undefined);
  const expect = { read: warm.stats.recordsRead, emitted: warm.stats.recordsEmitted };
  const rows: CheckpointCostRow[] = [];
  // A 1 s interval, and (follow mode) a 200 ms one: a 200 MB run is over in about a
  // second, so only the faster interval shows what periodic checkpoints cost.
  const cases = [
    { mode: 'once', interval: '1s' },
    { mode: 'follow', interval: '1s' },
    { mode: 'follow', interval: '200ms' },
  ] as const;
  for (const { mode, interval } of cases) {
    const off: number[] = [];
    const on: number[] = [];
    const offCpu: number[] = [];
    const onCpu: number[] = [];
    const commits: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so drift in the machine's load hits both alike.
      for (const withCheckpoint of r % 2 ? [true, false] : [false, true]) {
        const { ms, cpuMs, stats } = await run(mode, withCheckpoint ? interval : undefined, expect);
        if (stats.recordsEmitted !== expect.emitted) throw new Error(`${mode} ${withCheckpoint ? 'on' : 'off'}: emitted ${stats.recordsEmitted}, expected ${expect.emitted}`);
        if (withCheckpoint) {
          if (stats.checkpoints.committed < 1 || stats.checkpoints.failed > 0) throw new Error(`checkpoints: ${JSON.stringify(stats.checkpoints)}`);
          on.push(ms);
          onCpu.push(cpuMs);
          commits.push(stats.checkpoints.committed);
        } else {
          off.push(ms);
          offCpu.push(cpuMs);
        }
      }
    }
    const ratios = on.map((ms, i) => ms / off[i]!);
    rows.push({
      mode,
      interval,
      offMs: median(off),
      onMs: median(on),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      cpuRatio: median(onCpu.map((ms, i) => ms / offCpu[i]!)),
      checkpointsPerRun: median(commits),
    });
  }
  rmSync(out, { force: true });
  rmSync(dir, { recursive: true, force: true });

  console.log(`\ncheckpoint cost over ${(bytes / 1e6).toFixed(0)} MB, ${parser} parser, 2 workers, file sink (${rounds} rounds, each running off and on back to back, order alternating)`);
  console.table(
    rows.map((r) => ({
      case: r.mode === 'once' ? 'once' : 'follow until caught up, then stop()',
      interval: r.interval,
      'off s': (r.offMs / 1000).toFixed(2),
      'on s': (r.onMs / 1000).toFixed(2),
      'on/off (median of rounds)': r.ratio.toFixed(3),
      'on/off min..max': `${r.ratioMin.toFixed(2)}..${r.ratioMax.toFixed(2)}`,
      'CPU on/off': r.cpuRatio.toFixed(3),
      'checkpoints/run': r.checkpointsPerRun,
    })),
  );
  for (const r of rows) {
    console.log(
      `checkpoint cost (${r.mode === 'once' ? '--once' : 'follow mode'}, checkpointInterval ${r.interval}, ${r.checkpointsPerRun} checkpoint(s) per run incl. the one at stop): ` +
        `off ${(r.offMs / 1000).toFixed(2)} s, on ${(r.onMs / 1000).toFixed(2)} s (medians), on/off ×${r.ratio.toFixed(3)} (median of ${rounds} paired rounds, ` +
        `${r.ratioMin.toFixed(2)}..${r.ratioMax.toFixed(2)}; target ≤ 1.05); CPU time on/off ×${r.cpuRatio.toFixed(3)}`,
    );
  }
  return rows;
}

/** A fast 32-bit PRNG (xorshift32), for millions of key hashes. */
function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x | 0;
  };
}

/** Spawn, and resolve with the ms until `needle` is in `file` (polled every 2 ms) and the child's stderr; the child is then SIGKILLed. */
async function timeToRecord(args: string[], file: string, needle: string, timeoutMs = 30_000): Promise<{ ms: number; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (stderr += s));
  try {
    for (;;) {
      if (existsSync(file) && readFileSync(file, 'latin1').includes(needle)) return { ms: performance.now() - t0, stderr };
      if (child.exitCode !== null) throw new Error(`engine exited ${child.exitCode} before ${needle} appeared: ${stderr}`);
      if (performance.now() - t0 > timeoutMs) throw new Error(`${needle} not in ${file} after ${timeoutMs} ms: ${stderr}`);
      await sleep(2);
    }
  } finally {
    const gone = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await gone;
    }
  }
}

export async function restartTime(opts: { rounds?: number; liveEntries?: number } = {}): Promise<RestartResult> {
  const rounds = opts.rounds ?? 7;
  const wanted = opts.liveEntries ?? 14_000_000;
  const dir = join(BENCH_DATA, 'checkpoint-restart');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'in.ndjson');
  const out = join(dir, 'out.ndjson');
  const freshOut = join(dir, 'fresh-out.ndjson');
  const ckpt = join(dir, 'ckpt');
  const t0 = Date.UTC(2026, 10, 25);
  const line = (id: string, t: number): string => JSON.stringify({ id, timestamp: t, side: 'buy', px: 43123.5, qty: 0.015 }) + '\n';
  writeFileSync(input, Array.from({ length: 1000 }, (_, i) => line(`seed-${i}`, t0 + i)).join(''));

  // 1. A real checkpoint: file identities and offsets, sink length, a 16 M-slot table.
  await engineRun({ input: [input], sink: `file:${out}`, once: true, workers: 2, dedupCapacity: RESTART_CAPACITY, dedupWindow: WINDOW_MS, checkpoint: ckpt });
  const store = new CheckpointStore(ckpt);
  const state = store.load();
  if (!state) throw new Error(`no checkpoint in ${ckpt}`);

  // 2. The same checkpoint with a table holding ~`wanted` live keys: random 64-bit
  //    hashes, event times spread over 90 % of one window ending after the seed records.
  const fillStart = performance.now();
  const table = DedupTable.create({ capacity: RESTART_CAPACITY, windowMs: WINDOW_MS });
  const rand = xorshift(0x5eed);
  const tEnd = t0 + 1000 + WINDOW_MS * 0.9;
  let live = 0;
  for (let i = 0; i < wanted; i++) {
    const t = tEnd - WINDOW_MS * 0.9 * (1 - i / wanted);
    if (table.insert(rand(), rand(), t) === INSERT_NEW) live++;
  }
  table.prepareSnapshot();
  const snapshot = new Uint8Array(table.sharedBuffer);
  await store.commit(
    { ...state, generation: state.generation + 1, writtenAtMs: Date.now(), dedup: { format: 'raw', file: '', byteLength: 0, windowMs: WINDOW_MS, capacity: table.capacity } },
    { base: snapshot },
    async () => {},
  );
  const fillMs = performance.now() - fillStart;
  const committed = store.load()!;
  const snapshotBytes = statSync(join(ckpt, committed.dedup.file)).size;
  if (committed.dedup.format !== 'raw' || snapshotBytes !== snapshot.byteLength) throw new Error(`unexpected snapshot: ${JSON.stringify(committed.dedup)}`);

  // 3. Rounds: append one new record, then time node -e 0, a fresh start, and the restart.
  const common = ['run', '--input', input, '--workers', '2', '--dedup-capacity', String(RESTART_CAPACITY), '--dedup-window', `${WINDOW_MS}ms`, '--no-metrics', '--log-level', 'warn'];
  const nodeMs: number[] = [];
  const freshMs: number[] = [];
  const restartMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const id = `new-${r}`;
    appendFileSync(input, line(id, tEnd + 1000 + r));
    const needle = `"id":"${id}"`;

    const n0 = performance.now();
    const e = spawnSync(process.execPath, ['-e', '0']);
    if (e.status !== 0) throw new Error('node -e 0 failed');
    nodeMs.push(performance.now() - n0);

    rmSync(freshOut, { force: true });
    freshMs.push((await timeToRecord([CLI, ...common, '--sink', `file:${freshOut}`, '--no-checkpoint'], freshOut, needle)).ms);

    // SIGKILLed once the record is out, so every round restarts from the same
    // committed checkpoint (the sink is cut back to its committed length each time).
    const restart = await timeToRecord([CLI, ...common, '--sink', `file:${out}`, '--checkpoint', ckpt, '--checkpoint-interval', '1h'], out, needle);
    restartMs.push(restart.ms);
    // It did resume: the 1000 committed seed records once, then new-0..new-r (re-read after the
    // checkpoint's offset), and the table was taken as it is (no re-insertion).
    const ids = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    const want = [...Array.from({ length: 1000 }, (_, i) => `seed-${i}`), ...Array.from({ length: r + 1 }, (_, i) => `new-${i}`)];
    if (ids.join() !== want.join()) throw new Error(`restart round ${r}: sink holds ${ids.length} records, expected ${want.length} (${ids.slice(-3).join()})`);
    if (/re-inserted/.test(restart.stderr)) throw new Error(`the snapshot was re-hashed, not restored: ${restart.stderr}`);
  }
  const after = store.load()!;
  if (after.generation !== committed.generation) throw new Error(`checkpoint changed during the rounds (generation ${committed.generation} → ${after.generation})`);
  rmSync(dir, { recursive: true, force: true });

  const result: RestartResult = {
    capacity: table.capacity,
    liveEntries: live,
    snapshotBytes,
    restartMs: median(restartMs),
    freshMs: median(freshMs),
    nodeMs: median(nodeMs),
    ratio: median(restartMs) / median(nodeMs),
  };
  const m = (x: number): string => (x / 1000).toFixed(3);
  console.log(
    `\nrestart from a checkpoint: dedup table ${table.capacity.toLocaleString('en-US')} slots, ${(live / 1e6).toFixed(1)} M live entries ` +
      `(${wanted.toLocaleString('en-US')} inserted), raw snapshot ${(snapshotBytes / 1e6).toFixed(0)} MB in the page cache (built in ${(fillMs / 1000).toFixed(1)} s); median of ${rounds}`,
  );
  console.table([
    { case: 'node -e 0 (spawn → exit)', s: m(result.nodeMs), 'x node -e 0': '1.00' },
    { case: 'ordertail --no-checkpoint (spawn → appended record in sink)', s: m(result.freshMs), 'x node -e 0': (result.freshMs / result.nodeMs).toFixed(2) },
    { case: 'ordertail --checkpoint (spawn → appended record in sink)', s: m(result.restartMs), 'x node -e 0': result.ratio.toFixed(2) },
  ]);
  console.log(
    `restart with a ${(snapshotBytes / 1e6).toFixed(0)} MB dedup snapshot (${table.capacity.toLocaleString('en-US')} slots, ${(live / 1e6).toFixed(1)} M live): ` +
      `first new record in the sink ${m(result.restartMs)} s after spawn (target ≤ 1 s); node -e 0 ${m(result.nodeMs)} s (×${result.ratio.toFixed(1)}); ` +
      `same start without a checkpoint ${m(result.freshMs)} s`,
  );
  return result;
}

export async function run(opts: { megabytes?: number; rounds?: number; liveEntries?: number } = {}): Promise<void> {
  await checkpointCost(opts);
  await restartTime(opts);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await run({
    megabytes: Number(process.env.BENCH_MB ?? 200),
    rounds: process.env.CHECKPOINT_ROUNDS ? Number(process.env.CHECKPOINT_ROUNDS) : undefined,
    liveEntries: Number(process.env.CHECKPOINT_LIVE ?? 14_000_000),
  });
}
