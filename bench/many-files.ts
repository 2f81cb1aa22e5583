/**
 * A directory of many small files, as partitioned order logs are (a file per
 * symbol and hour): by default 5,000 files of 10 orders each, half of the
 * orders carrying non-ASCII text, 10 % of them copied byte for byte into
 * another file. Four jobs, as child processes, every order counted:
 *   - `run --once` over the directory: spawn → exit;
 *   - a follower started on it (CLI defaults, checkpoints in a fresh
 *     directory): spawn → every order in the sink (the history read), then stopped;
 *   - a follower of as many empty files while a writer appends 20,000 orders a
 *     second round-robin across them for 10 s (bench/many-files-writer.ts):
 *     the engine's CPU seconds over that time (/proc/PID/stat), every order out once;
 *   - a follower of the directory when a fifth as many new files appear at
 *     once (an hourly rollover across symbols): their writing → every new order out.
 * What grows with the file count here is per-file work on the main thread
 * (planning and emitting walk the files), which a large-file bench never shows.
 *
 * With BENCH_BASELINE=<directory of another built checkout> (bench/baseline.sh),
 * that build runs the same jobs, interleaved round-robin; the table gives the
 * ratio of medians.
 *   BENCH_ONLY=many-files npm run bench   (BENCH_MANY_FILES, default 5000; BENCH_MANY_FILES_REPEATS, default 3)
 */
import { processCpuSeconds } from './proc.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DATA, REPO_ROOT } from './data.js';

const ORDERS_PER_FILE = 10;

interface Directory {
  readonly dir: string;
  readonly orders: number;
  /** Bytes of the orders, each once: the size of a complete output. */
  readonly bytes: number;
}

const order = (seq: number): string =>
  `{"id":"o${seq}","timestamp":${1_764_900_000_000 + seq},"symbol":"BTC-USDT","side":"buy","qty":${seq % 97},` +
  `"note":"${seq % 2 ? 'заявка №' + seq + ' — 東京' : 'plain order ' + seq}"}\n`;

/** The files, made once per count (ids o<seq>; copies repeat an id in another file). */
function directory(files: number): Directory {
  const dir = join(BENCH_DATA, `many-files-${files}`);
  const orders = files * ORDERS_PER_FILE;
  let bytes = 0;
  for (let seq = 0; seq < orders; seq++) bytes += Buffer.byteLength(order(seq));
  if (existsSync(join(dir, 'done'))) return { dir, orders, bytes };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let seed = 7;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const texts: string[] = Array.from({ length: files }, () => '');
  for (let seq = 0; seq < orders; seq++) texts[Math.floor(seq / ORDERS_PER_FILE)] += order(seq);
  // Copies of 10 % of the orders, each appended to a random other file.
  for (let k = 0; k < orders / 10; k++) {
    const seq = rand(orders);
    texts[(Math.floor(seq / ORDERS_PER_FILE) + 1 + rand(files - 1)) % files] += order(seq);
  }
  texts.forEach((text, f) => writeFileSync(join(dir, `orders-${String(f).padStart(6, '0')}.ndjson`), text));
  writeFileSync(join(dir, 'done'), '');
  return { dir, orders, bytes };
}

/** Every order once in `out`? */
function audit(out: string, orders: number): { lines: number; repeated: number; missing: number } {
  const seen = new Uint8Array(orders);
  let lines = 0;
  let repeated = 0;
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    if (!line) continue;
    lines++;
    const seq = Number(/"id":"o(\d+)"/.exec(line)![1]);
    if (seen[seq]) repeated++;
    seen[seq] = 1;
  }
  return { lines, repeated, missing: seen.reduce((n, s) => n + (s ? 0 : 1), 0) };
}

function onceRun(root: string, d: Directory, out: string): number {
  rmSync(out, { force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin/ordertail.js'), 'run', '--once', '--input', join(d.dir, '*.ndjson'), '--sink', `file:${out}`, '--no-metrics', '--log-level', 'warn'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${root}: exit ${r.status}: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

/** A follower's spawn → every order of the directory in its sink (counted by size growth, then audited). */
async function followRun(root: string, d: Directory, out: string): Promise<number> {
  rmSync(out, { force: true });
  const checkpoint = mkdtempSync(join(BENCH_DATA, 'many-files-ckpt-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin/ordertail.js'), 'run', '--input', join(d.dir, '*.ndjson'), '--sink', `file:${out}`, '--checkpoint', checkpoint, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${root}: follower exited ${child.exitCode}: ${stderr}`);
      if (existsSync(out) && statSync(out).size >= d.bytes) return (performance.now() - t0) / 1000;
      if (performance.now() - t0 > 120_000) throw new Error(`${root}: not every order out after 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(checkpoint, { recursive: true, force: true });
  }
}

/** The follower's CPU seconds while the writer appends across `files` files (and whether every order came out once). */
async function appendedRun(root: string, files: number, rate: number, seconds: number): Promise<{ cpu: number; wrong: number }> {
  const dir = mkdtempSync(join(BENCH_DATA, 'many-files-live-'));
  for (let f = 0; f < files; f++) writeFileSync(join(dir, `live-${String(f).padStart(6, '0')}.ndjson`), '');
  const out = join(dir, 'out.ndjson.sink');
  const checkpoint = join(dir, 'ckpt');
  const child = spawn(process.execPath, [join(root, 'bin/ordertail.js'), 'run', '--input', join(dir, '*.ndjson'), '--sink', `file:${out}`, '--checkpoint', checkpoint, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await new Promise((r) => setTimeout(r, 1500));
    if (child.exitCode !== null) throw new Error(`${root}: follower exited ${child.exitCode}: ${stderr}`);
    const cpu0 = processCpuSeconds(child.pid);
    const writer = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/bench/many-files-writer.js'), dir, String(files), String(rate), String(seconds)], { encoding: 'utf8' });
    const written = (JSON.parse(writer.stdout) as { written: number }).written;
    for (let waited = 0; !existsSync(out) || countLines(out) < written; waited += 50) {
      if (waited > 30_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu = processCpuSeconds(child.pid) - cpu0;
    const ids = new Set<string>();
    let lines = 0;
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      if (!line) continue;
      lines++;
      ids.add(/"id":"(w\d+)"/.exec(line)![1]!);
    }
    return { cpu, wrong: lines - ids.size + (written - ids.size) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A follower of the directory, caught up; `fresh` new files of 5 orders appear: seconds from their writing to every new order out. */
async function rolloverRun(root: string, d: Directory, fresh: number): Promise<{ seconds: number; wrong: number }> {
  const work = mkdtempSync(join(BENCH_DATA, 'many-files-roll-'));
  const dir = join(work, 'logs');
  mkdirSync(dir);
  // The directory's files, hard-linked (no copy of their bytes; the new files go beside them).
  for (const name of readdirSync(d.dir)) if (name.endsWith('.ndjson')) linkSync(join(d.dir, name), join(dir, name));
  const out = join(work, 'out.sink');
  const child = spawn(process.execPath, [join(root, 'bin/ordertail.js'), 'run', '--input', join(dir, '*.ndjson'), '--sink', `file:${out}`, '--checkpoint', join(work, 'ckpt'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const waitFor = async (bytes: number, what: string): Promise<void> => {
    for (let waited = 0; !existsSync(out) || statSync(out).size < bytes; waited += 5) {
      if (child.exitCode !== null) throw new Error(`${root}: follower exited ${child.exitCode}: ${stderr}`);
      if (waited > 120_000) throw new Error(`${root}: ${what} not out after 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    await waitFor(d.bytes, 'the history');
    let freshBytes = 0;
    const t0 = performance.now();
    for (let f = 0; f < fresh; f++) {
      let text = '';
      for (let i = 0; i < 5; i++) text += `{"id":"n${f}-${i}","timestamp":${Date.now()},"note":"заявка — 東京"}\n`;
      writeFileSync(join(dir, `new-${String(f).padStart(6, '0')}.ndjson`), text);
      freshBytes += Buffer.byteLength(text);
    }
    await waitFor(d.bytes + freshBytes, 'the new files');
    const seconds = (performance.now() - t0) / 1000;
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const ids = new Set(lines.map((l) => /"id":"([^"]+)"/.exec(l)![1]));
    return { seconds, wrong: lines.length - ids.size + (d.orders + fresh * 5 - ids.size) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(work, { recursive: true, force: true });
  }
}

function countLines(path: string): number {
  return readFileSync(path).reduce((n, b) => (b === 10 ? n + 1 : n), 0);
}

export async function run(opts: { files?: number; repeats?: number } = {}): Promise<void> {
  const files = opts.files ?? Number(process.env.BENCH_MANY_FILES ?? 5000);
  const repeats = opts.repeats ?? Number(process.env.BENCH_MANY_FILES_REPEATS ?? 3);
  const d = directory(files);
  const builds: [string, string][] = [['this build', REPO_ROOT]];
  if (process.env.BENCH_BASELINE) builds.unshift([`baseline (${process.env.BENCH_BASELINE})`, process.env.BENCH_BASELINE]);
  const out = join(BENCH_DATA, 'many-files-out.ndjson');
  const rows = builds.map(([build]) => ({ build, once: [] as number[], follow: [] as number[], appendedCpu: [] as number[], rollover: [] as number[], wrong: 0 }));
  const fresh = Math.ceil(files / 5);
  const appendRate = 20_000;
  const appendSeconds = 10;
  for (let i = 0; i < repeats; i++) {
    for (const [b, [, root]] of builds.entries()) {
      rows[b]!.once.push(onceRun(root, d, out));
      const once = audit(out, d.orders);
      rows[b]!.follow.push(await followRun(root, d, out));
      const follow = audit(out, d.orders);
      const appended = await appendedRun(root, files, appendRate, appendSeconds);
      rows[b]!.appendedCpu.push(appended.cpu);
      const rolled = await rolloverRun(root, d, fresh);
      rows[b]!.rollover.push(rolled.seconds);
      rows[b]!.wrong = Math.max(rows[b]!.wrong, once.repeated + once.missing, follow.repeated + follow.missing, appended.wrong, rolled.wrong);
    }
  }
  rmSync(out, { force: true });
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const base = rows[0]!;
  console.log(`\n${files} files of ${ORDERS_PER_FILE} orders (+10 % copies across files), medians of ${repeats}, builds interleaved`);
  console.table(
    rows.map((r) => ({
      build: r.build,
      '--once s': med(r.once).toFixed(2),
      '× first row': (med(base.once) / med(r.once)).toFixed(2),
      'follower: every order out, s': med(r.follow).toFixed(2),
      '× first row ': (med(base.follow) / med(r.follow)).toFixed(2),
      [`follower, ${appendRate / 1000}k orders/s appended across the files for ${appendSeconds} s: CPU-s`]: med(r.appendedCpu).toFixed(2),
      '× first row  ': (med(base.appendedCpu) / med(r.appendedCpu)).toFixed(2),
      [`${fresh} new files appear: every new order out, s`]: med(r.rollover).toFixed(2),
      '× first row   ': (med(base.rollover) / med(r.rollover)).toFixed(2),
      // The appended job waits 30 s after the writer stops: an order not out by then counts as missing.
      'orders repeated, missing or not out 30 s after the writer stopped (worst run)': r.wrong,
    })),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
