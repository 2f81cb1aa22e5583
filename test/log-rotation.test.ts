// Real logrotate (Debian package) rotating a log while a writer appends to it at
// ≥ 5,000 lines/s and the engine follows `app.log*`: every written line must come
// out exactly once, in `create` mode (writer reopens its log) and in `copytruncate`
// mode (writer holds one O_APPEND descriptor), with dedup on the record ids and with
// dedupKey 'nosuchfield' (every line passes dedup, so re-reading cannot hide).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { until, workdir } from './helpers/workdir.js';
import { CountingTail, idOf } from './helpers/sink-tail.js';

const WRITER = resolve(import.meta.dirname, 'helpers/line-writer.mjs');
const LOGROTATE = findLogrotate();
const LOGROTATE_MISSING = LOGROTATE ? undefined : 'logrotate not found (Debian package logrotate: apt-get install -y logrotate)';

/** Lines per second the writer aims at, how long it writes, and when logrotate runs (ms after the writer starts). */
const RATE = 8000;
const DURATION_MS = 4000;
const ROTATE_AT_MS = [1000, 2000, 3000];
/** Lines present before the engine starts (read as history). */
const PRE_LINES = 2000;

function findLogrotate(): string | undefined {
  for (const p of ['/usr/sbin/logrotate', '/sbin/logrotate', '/usr/bin/logrotate']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v logrotate'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

const engines: Engine[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  while (children.length) {
    const c = children.pop()!;
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  while (engines.length) await engines.pop()!.stop();
});

/** Every record id in the files matching app.log* at the end, the file(s) holding each, and each file's first and last id. */
function idsOnDisk(dir: string): { where: Map<string, string[]>; firsts: Set<string>; lasts: Set<string> } {
  const where = new Map<string, string[]>();
  const firsts = new Set<string>();
  const lasts = new Set<string>();
  for (const name of readdirSync(dir).filter((n) => n.startsWith('app.log')).sort()) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n').filter((l) => l.length > 0);
    if (lines.length) {
      firsts.add(idOf(lines[0]!));
      lasts.add(idOf(lines[lines.length - 1]!));
    }
    for (const line of lines) {
      const id = idOf(line);
      const list = where.get(id);
      if (list) list.push(name);
      else where.set(id, [name]);
    }
  }
  return { where, firsts, lasts };
}

/** Waits until the engine has read nothing new for `quietMs` (a window for late duplicates to show), bounded. */
async function settle(engine: Engine, quietMs = 1000, boundMs = 15_000): Promise<void> {
  const start = Date.now();
  let last = engine.stats().recordsRead;
  let since = Date.now();
  while (Date.now() - since < quietMs && Date.now() - start < boundMs) {
    await new Promise((r) => setTimeout(r, 50));
    const now = engine.stats().recordsRead;
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

function logrotate(conf: string, state: string): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    execFile(LOGROTATE!, ['-s', state, '-f', conf], { encoding: 'utf8', timeout: 20_000 }, (err, _stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

/** Runs of consecutive numbers in a sorted list: [first, last] each. */
function runsOf(sorted: number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const n of sorted) {
    const last = runs[runs.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else runs.push([n, n]);
  }
  return runs;
}

const sample = <T>(xs: Iterable<T>, n = 10): T[] => [...xs].slice(0, n);

async function rotationRun(mode: 'create' | 'copytruncate', dedupKey: 'id' | 'nosuchfield'): Promise<void> {
  const dir = workdir('ordertail-logrotate-');
  const log = join(dir, 'app.log');
  const sink = join(dir, 'out.ndjson');
  const conf = join(dir, 'logrotate.conf');
  const state = join(dir, 'logrotate.state');
  // logrotate as root refuses a config writable by group/others; 0644 is what it expects.
  writeFileSync(conf, `${log} {\n  rotate 5\n  nocompress\n  ${mode}\n  missingok\n}\n`, { mode: 0o644 });
  let pre = '';
  for (let i = 0; i < PRE_LINES; i++) pre += `{"id":"pre-${i}","timestamp":${Date.now()},"pad":"history"}\n`;
  writeFileSync(log, pre);

  const engine = new Engine({ input: join(dir, 'app.log*'), sink: `file:${sink}`, workers: 2, dedupKey });
  engines.push(engine);
  const warnings: string[] = [];
  const errors: Error[] = [];
  engine.on('warning', (m) => warnings.push(m));
  engine.on('error', (e) => errors.push(e));
  await engine.start();
  const tail = new CountingTail(sink);

  // The writer: reopens per batch for `create` (like an app told to reopen its log),
  // holds one O_APPEND descriptor for `copytruncate` (an app that never reopens).
  const writer = spawn(
    process.execPath,
    [WRITER, '--file', log, '--mode', mode === 'create' ? 'reopen' : 'held', '--rate', String(RATE), '--duration', String(DURATION_MS), '--prefix', 'w'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(writer);
  let out = '';
  let err = '';
  writer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  writer.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => writer.on('exit', (code) => r(code)));
  await until(() => out.includes('"ready"'), 10_000, 'the writer to start');
  const t0 = Date.now();

  const rotations: { atMs: number; code: number; stderr: string }[] = [];
  for (const at of ROTATE_AT_MS) {
    const wait = t0 + at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const r = await logrotate(conf, state);
    rotations.push({ atMs: Date.now() - t0, ...r });
  }
  const code = await exited;
  const writerEnd = Date.now();
  expect(code, err).toBe(0);
  const summary = JSON.parse(out.trim().split('\n').pop()!) as { written: number; rate: number; elapsedMs: number };

  // Harness checks: the writer kept the rate, logrotate rotated 2-3 times.
  expect(summary.rate, 'writer rate (lines/s)').toBeGreaterThanOrEqual(5000);
  for (const r of rotations) {
    // In create mode an app that reopens per batch can recreate app.log between logrotate's
    // rename and its create; logrotate then renames that file to app.log-YYYYMMDDHH.backup
    // (still in the glob) and exits 1. That is logrotate working as designed, not a test failure.
    const raced = mode === 'create' && /already exists/.test(r.stderr);
    expect(r.code === 0 || raced, `logrotate exit ${r.code}: ${r.stderr}`).toBe(true);
  }
  const rotated = readdirSync(dir).filter((n) => /^app\.log\.\d$/.test(n));
  expect(rotated.length, `rotated files: ${rotated.join(', ')}`).toBeGreaterThanOrEqual(2);

  const written = new Set<string>();
  for (let i = 0; i < PRE_LINES; i++) written.add(`pre-${i}`);
  for (let i = 0; i < summary.written; i++) written.add(`w-${i}`);
  const disk = idsOnDisk(dir);
  const onDisk = disk.where;

  // Wait until every line that is on disk has come out (then a quiet window for late duplicates).
  const covered = (): boolean => {
    if (errors.length) return true; // failed: stop waiting, the assertions below report it
    tail.poll();
    if (tail.counts.size < onDisk.size) return false;
    for (const id of onDisk.keys()) if (!tail.counts.has(id)) return false;
    return true;
  };
  let caughtUp = true;
  try {
    await until(covered, 20_000, 'the engine to emit every line on disk');
  } catch {
    caughtUp = false;
  }
  const catchUpMs = Date.now() - writerEnd;
  await settle(engine);
  await engine.stop();
  engines.splice(engines.indexOf(engine), 1);
  tail.poll();

  const duplicates = [...tail.counts].filter(([, n]) => n > 1);
  const foreign = [...tail.counts.keys()].filter((id) => !written.has(id));
  const missingOnDisk = [...onDisk.keys()].filter((id) => !tail.counts.has(id));
  const notOnDisk = [...written].filter((id) => !onDisk.has(id));
  const duplicatedOnDisk = [...onDisk].filter(([, files]) => files.length > 1);
  // Written, not emitted, and in no file on disk: lost by copytruncate between logrotate's
  // copy and its truncate, before the engine could read them (see below).
  const lostByLogrotate = notOnDisk.filter((id) => !tail.counts.has(id));
  const lostSeqs = lostByLogrotate.map((id) => Number(id.slice(2))).sort((a, b) => a - b);
  const lostRuns = runsOf(lostSeqs);
  const stats = engine.stats();

  const report = {
    mode,
    dedupKey,
    written: written.size,
    writerRate: summary.rate,
    rotations: rotations.map((r) => `${r.atMs}ms:${r.code}`).join(' '),
    filesAtEnd: readdirSync(dir).filter((n) => n.startsWith('app.log')).sort().join(' '),
    emitted: tail.total,
    unique: tail.counts.size,
    duplicates: duplicates.length,
    missingOnDisk: missingOnDisk.length,
    readFromTruncatedWindow: notOnDisk.length - lostByLogrotate.length,
    lostByLogrotate: lostByLogrotate.length,
    lostRuns: lostRuns.map(([a, b]) => `${a}-${b}`).join(' '),
    catchUpMs: caughtUp ? catchUpMs : 'timeout',
    statsDuplicates: stats.duplicates,
    warnings: warnings.length,
  };
  console.log(`logrotate ${mode} dedupKey=${dedupKey}: ${JSON.stringify(report)}`);
  for (const w of warnings) console.log(`  warning: ${w}`);

  // Harness and logrotate first: what is on disk, and what copytruncate itself lost.
  expect(duplicatedOnDisk.length, `lines on disk twice (harness): ${JSON.stringify(sample(duplicatedOnDisk))}`).toBe(0);
  if (mode === 'create') {
    // Rename-and-create loses nothing on disk: every written line is in some app.log* file.
    expect(notOnDisk.length, `written lines in no file (harness): ${JSON.stringify(sample(notOnDisk))}`).toBe(0);
  } else {
    // copytruncate's own, documented loss: logrotate copies app.log then truncates it; lines the
    // writer appends between the end of the copy and the truncate exist in no file afterwards.
    // The engine can only have them if it read them from app.log inside that window. Those it
    // missed are logrotate's loss, not the engine's: we assert on what is on disk plus what the
    // engine emitted (below), and here only that such losses look like copytruncate's — at most
    // one contiguous run of lines per rotation.
    expect(lostRuns.length, `lost lines in ${lostRuns.length} runs: ${report.lostRuns}`).toBeLessThanOrEqual(rotations.length);
    // And each gap on disk (lines in no file, whether the engine caught them or not) sits exactly
    // at a copytruncate boundary: the line before it ends a copy, the line after it starts the
    // truncated file's new content.
    const gaps = runsOf(notOnDisk.filter((id) => id.startsWith('w-')).map((id) => Number(id.slice(2))).sort((a, b) => a - b));
    for (const [a, b] of gaps) {
      if (a > 0) expect(disk.lasts.has(`w-${a - 1}`), `w-${a - 1} (before gap ${a}-${b}) ends no file`).toBe(true);
      if (b + 1 < summary.written) expect(disk.firsts.has(`w-${b + 1}`), `w-${b + 1} (after gap ${a}-${b}) starts no file`).toBe(true);
    }
  }
  // The engine: nothing on disk missed, nothing twice, nothing invented.
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(foreign, 'emitted lines that were never written').toEqual([]);
  const dupRuns = runsOf(duplicates.filter(([id]) => id.startsWith('w-')).map(([id]) => Number(id.slice(2))).sort((a, b) => a - b));
  const dupWhere = dupRuns.map(([a, b]) => `w-${a}..w-${b} (${b - a + 1} lines, on disk in ${onDisk.get(`w-${a}`)?.join('+') ?? 'no file'})`);
  expect(duplicates.length, `lines emitted more than once: ${dupWhere.join('; ')}; e.g. ${JSON.stringify(sample(duplicates, 3))}`).toBe(0);
  expect(
    missingOnDisk.length,
    `lines on disk never emitted: ${JSON.stringify(sample(missingOnDisk).map((id) => [id, onDisk.get(id)]))}`,
  ).toBe(0);
  if (dedupKey === 'id') expect(stats.duplicates, 'dedup dropped duplicates: the engine re-read lines').toBe(0);
  else expect(stats.withoutKey).toBe(tail.total);
}

describe.each(['create', 'copytruncate'] as const)('logrotate %s while writing ≥ 5,000 lines/s', (mode) => {
  it.for(['id', 'nosuchfield'] as const)('every line exactly once (dedupKey %s)', async (dedupKey, ctx) => {
    if (LOGROTATE_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(LOGROTATE_MISSING);
    if (LOGROTATE_MISSING) ctx.skip(LOGROTATE_MISSING);
    await rotationRun(mode, dedupKey);
  });
});
