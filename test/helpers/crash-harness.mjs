/**
 * Crash/exactly-once harness for ordertail, shared by test/crash-recovery.test.ts and
 * scripts/stress.mjs (plain JS so both can import it without a build step).
 *
 * A scenario: a steady writer process (steady-writer.mjs) appends NDJSON records to one
 * or more logs; the CLI (`bin/ordertail.js run ... --checkpoint DIR`) is started and
 * SIGKILLed at random moments, again and again; then the writer stops, one last
 * `--once` run with the same checkpoint catches up, and the sink is compared with what
 * the logs say it must hold: every record exactly once (keyed: the first line of each
 * id; unkeyed: every line).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
/** The CLI under test; ORDERTAIL_CRASH_BIN swaps in another script (used to check the harness itself). */
export const BIN = process.env.ORDERTAIL_CRASH_BIN ?? join(REPO, 'bin', 'ordertail.js');
export const WRITER = join(here, 'steady-writer.mjs');

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Children still running, so a failed test or an interrupted script can kill them. */
const live = new Set();
export function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}
process.once('exit', killAll);

function track(child) {
  live.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => live.delete(child));
  return exited;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sizeOf = (path) => (existsSync(path) ? statSync(path).size : 0);

/* ------------------------------------------------------------------ writer */

/**
 * Start steady-writer.mjs with `config` (see its header); resolves once it has opened its logs.
 * `stop()` sends SIGTERM and resolves to its summary.
 */
export async function startWriter(config) {
  const child = spawn(process.execPath, [WRITER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = track(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const ready = new Promise((resolve, reject) => {
    const onData = () => {
      if (out.includes('ready\n')) resolve();
    };
    child.stdout.on('data', onData);
    exited.then(({ code, signal }) => reject(new Error(`writer exited before it was ready (code ${code}, signal ${signal}): ${err}`)));
  });
  await ready;
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      if (code !== 0) throw new Error(`writer failed (code ${code}, signal ${signal}): ${err}`);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`writer printed no summary: ${out} ${err}`);
      return JSON.parse(line);
    },
  };
}

/* ------------------------------------------------------------------ engine */

/** argv for `ordertail run` in a crash scenario. */
/**
 * @param {{ inputs: string[], sink: string, checkpoint: string, deadLetter?: string, keyed?: boolean, interval?: string, workers?: number, once?: boolean, extra?: string[] }} options
 * @returns {string[]}
 */
export function engineArgs({ inputs, sink, checkpoint, deadLetter, keyed = true, interval = '100ms', workers = 2, once = false, extra = [] }) {
  const args = ['run'];
  for (const input of inputs) args.push('--input', input);
  args.push('--sink', `file:${sink}`, '--checkpoint', checkpoint, '--checkpoint-interval', interval);
  args.push('--no-metrics', '--workers', String(workers), '--log-level', 'warn');
  if (deadLetter) args.push('--dead-letter', deadLetter);
  if (!keyed) args.push('--dedup-key', 'nosuchfield');
  if (once) args.push('--once');
  return [...args, ...extra];
}

/** Start the CLI with `args`; stderr is kept (the last 64 KiB). */
export function spawnEngine(args) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO });
  const exited = track(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    if (stderr.length > 65536) stderr = stderr.slice(-65536);
  });
  return { child, exited, stderr: () => stderr };
}

/** Run the CLI to completion (or kill it after `timeoutMs`). */
export async function runEngine(args, timeoutMs = 60_000) {
  const e = spawnEngine(args);
  const timer = setTimeout(() => e.child.kill('SIGKILL'), timeoutMs);
  const started = Date.now();
  const { code, signal } = await e.exited;
  clearTimeout(timer);
  await new Promise((r) => setImmediate(r)); // let the last stderr chunk arrive
  return { code, signal, stderr: e.stderr(), ms: Date.now() - started, timedOut: signal === 'SIGKILL' };
}

/** pino lines on stderr at or above `level` (40 warn, 50 error); other text lines count as level 60. */
export function logLines(stderr, level = 40) {
  const found = [];
  for (const line of stderr.split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line);
      if (typeof o.level === 'number' && o.level >= level) found.push({ level: o.level, msg: String(o.msg ?? '') });
    } catch {
      if (level <= 60) found.push({ level: 60, msg: line });
    }
  }
  return found;
}

/**
 * The sink length the checkpoint in `dir` committed, or undefined (no checkpoint, or a
 * format this reader does not know: only used for statistics, never for the verdict).
 */
export async function committedBytes(dir) {
  try {
    const { unpack } = await import('msgpackr');
    const outer = unpack(readFileSync(join(dir, 'checkpoint.msgpack')));
    const state = unpack(outer[3]);
    const n = state?.sink?.committedBytes;
    return typeof n === 'number' ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Start the engine and SIGKILL it at a random moment, `kills` times. Throws if the engine
 * exits by itself, or makes no progress for `progressTimeoutMs`. Returns one entry per cycle.
 *
 * anchor 'spawn': kill minDelayMs..maxDelayMs after the process starts (start-up takes
 * ~0.8 s on a busy 2-core machine, so many of these land while it loads the checkpoint,
 * truncates the sink or starts workers). anchor 'output': wait until the sink has grown
 * past its size at start (the engine is live), then kill 0..outputDelayMs later.
 * 'mixed' alternates, starting with 'spawn'.
 */
export async function crashLoop({ kills, args, sink, checkpoint, rand, minDelayMs = 200, maxDelayMs = 1500, outputDelayMs = 1000, anchor = 'mixed', progressTimeoutMs = 20_000, onCycle, afterKill }) {
  const cycles = [];
  for (let i = 0; i < kills; i++) {
    const sizeBefore = sizeOf(sink);
    const cycleAnchor = anchor === 'mixed' ? (i % 2 === 0 ? 'spawn' : 'output') : anchor;
    const delayMs = Math.round(cycleAnchor === 'spawn' ? minDelayMs + rand() * (maxDelayMs - minDelayMs) : rand() * outputDelayMs);
    const t0 = Date.now();
    const e = spawnEngine(args);
    let early;
    if (cycleAnchor === 'output') {
      let grown = false;
      const waitGrowth = (async () => {
        while (!grown && Date.now() - t0 < progressTimeoutMs) {
          if (sizeOf(sink) > sizeBefore) grown = true;
          else await sleep(5);
        }
      })();
      early = await Promise.race([e.exited, waitGrowth.then(() => undefined)]);
      if (!early && !grown) {
        e.child.kill('SIGKILL');
        await e.exited;
        throw new Error(`engine wrote nothing new in ${progressTimeoutMs} ms in crash cycle ${i + 1} (sink ${sizeBefore} B):\n${e.stderr()}`);
      }
    }
    const startupMs = Date.now() - t0;
    early ??= await Promise.race([e.exited, sleep(delayMs).then(() => undefined)]);
    if (early) {
      await sleep(20);
      throw new Error(`engine exited by itself in crash cycle ${i + 1} after ${Date.now() - t0} ms (code ${early.code}, signal ${early.signal}):\n${e.stderr()}`);
    }
    const sizeAtKill = sizeOf(sink);
    e.child.kill('SIGKILL');
    const { signal } = await e.exited;
    if (signal !== 'SIGKILL') throw new Error(`engine in crash cycle ${i + 1} ended with ${signal} instead of SIGKILL:\n${e.stderr()}`);
    const sizeAfter = sizeOf(sink);
    const committed = await committedBytes(checkpoint);
    const cycle = {
      cycle: i + 1,
      anchor: cycleAnchor,
      delayMs,
      aliveMs: Date.now() - t0,
      firstOutputMs: cycleAnchor === 'output' ? startupMs : undefined,
      sizeBefore,
      sizeAtKill: sizeAfter,
      wrote: sizeAtKill > sizeBefore || sizeAfter > sizeBefore,
      committed,
      uncommitted: committed === undefined ? undefined : sizeAfter - committed,
      problems: logLines(e.stderr(), 40),
    };
    cycles.push(cycle);
    onCycle?.(cycle);
    await afterKill?.(i + 1);
  }
  return cycles;
}

/* ------------------------------------------------------------------ verdict */

/**
 * What the sink must hold, from the logs as written: `streams` is one list of files per
 * writer stream, oldest first (a rotated file before the one that replaced it).
 * keyed: the first line of each id; unkeyed: every line. Keys are `stream:seq`.
 */
export function expectedRecords(streams, { keyed }) {
  const expected = new Map(); // key -> { line, file, offset }
  const seenIds = new Set();
  let lines = 0;
  let repeats = 0;
  for (const files of streams) {
    for (const file of files) {
      const buf = readFileSync(file);
      let start = 0;
      while (start < buf.length) {
        let end = buf.indexOf(10, start);
        if (end < 0) throw new Error(`${file} ends with an incomplete line at ${start}: the writer did not finish`);
        const line = buf.toString('utf8', start, end);
        const rec = JSON.parse(line);
        lines++;
        const key = `${rec.stream}:${rec.seq}`;
        const isRepeat = seenIds.has(rec.id);
        if (isRepeat) repeats++;
        seenIds.add(rec.id);
        if (!keyed || !isRepeat) expected.set(key, { line, file, offset: start });
        start = end + 1;
      }
    }
  }
  return { expected, lines, repeats, uniqueIds: seenIds.size };
}

/** Compare the sink file with `expected`; the report lists the first few of each kind of fault. */
export function verifyOutput(sinkPath, expected, { samples = 5 } = {}) {
  const buf = existsSync(sinkPath) ? readFileSync(sinkPath) : Buffer.alloc(0);
  const counts = new Map();
  const garbage = [];
  const altered = [];
  const unexpected = [];
  let outputLines = 0;
  let start = 0;
  let trailingPartial = false;
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    if (end < 0) {
      trailingPartial = true;
      end = buf.length;
    }
    const line = buf.toString('utf8', start, end);
    outputLines++;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      rec = undefined;
    }
    if (!rec || typeof rec !== 'object' || rec.stream === undefined || rec.seq === undefined) {
      garbage.push({ offset: start, line: line.slice(0, 160) });
    } else {
      const key = `${rec.stream}:${rec.seq}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const want = expected.get(key);
      if (!want) {
        if (counts.get(key) === 1) unexpected.push({ key, id: rec.id, repeatOf: rec.repeat_of, offset: start });
      } else if (want.line !== line) {
        altered.push({ key, offset: start, got: line.slice(0, 160), want: want.line.slice(0, 160) });
      }
    }
    start = end + 1;
  }
  const missing = [];
  for (const [key, want] of expected) if (!counts.has(key)) missing.push({ key, file: want.file, offset: want.offset });
  const duplicated = [];
  for (const [key, n] of counts) if (n > 1) duplicated.push({ key, times: n });
  const ok = missing.length === 0 && duplicated.length === 0 && unexpected.length === 0 && garbage.length === 0 && altered.length === 0 && !trailingPartial;
  return {
    ok,
    expected: expected.size,
    outputLines,
    distinct: counts.size,
    missing: missing.length,
    duplicated: duplicated.length,
    duplicateLines: duplicated.reduce((s, d) => s + d.times - 1, 0),
    unexpected: unexpected.length,
    garbage: garbage.length,
    altered: altered.length,
    trailingPartial,
    first: {
      missing: missing.slice(0, samples),
      duplicated: duplicated.slice(0, samples),
      unexpected: unexpected.slice(0, samples),
      garbage: garbage.slice(0, samples),
      altered: altered.slice(0, samples),
    },
  };
}

export function formatReport(r) {
  const head =
    `${r.ok ? 'OK' : 'FAIL'}: expected ${r.expected}, sink has ${r.outputLines} lines (${r.distinct} distinct); ` +
    `missing ${r.missing}, duplicated ${r.duplicated} (${r.duplicateLines} extra lines), unexpected ${r.unexpected}, ` +
    `garbage ${r.garbage}, altered ${r.altered}${r.trailingPartial ? ', sink ends without newline' : ''}`;
  if (r.ok) return head;
  const parts = [head];
  for (const [kind, list] of Object.entries(r.first)) {
    if (list.length) parts.push(`  first ${kind}: ${list.map((x) => JSON.stringify(x)).join('\n    ')}`);
  }
  return parts.join('\n');
}

/* ------------------------------------------------------------------ scenario */

/**
 * One full scenario in `dir` (must exist and be empty).
 *   streams: [{ name, file, rotateAtMs? }]  logs are dir/<file>
 *   input:   globs/paths for --input (default: the stream paths)
 *   keyed, kills, seed, rate, minDelayMs, maxDelayMs, outputDelayMs, anchor, interval, workers
 *   log:     progress callback (string)
 *   rotateAfterKill: n  rotate (SIGUSR2 to the writer) right after kill n, while the engine is down
 *   beforeFinal: async hook after the crash loop, before the catch-up run (stress --sabotage)
 */
export async function runCrashScenario(opts) {
  const { dir, keyed = true, kills = 6, seed = 1, rate = 3000, minDelayMs = 200, maxDelayMs = 1500, interval = '100ms', workers = 2, log = () => {} } = opts;
  const streams = (opts.streams ?? [{ name: 's0', file: 'orders.log' }]).map((s) => ({ ...s, path: join(dir, s.file) }));
  const sink = join(dir, 'out.ndjson');
  const checkpoint = join(dir, 'checkpoint');
  const deadLetter = join(dir, 'dead.ndjson');
  const inputs = opts.input ?? streams.map((s) => s.path);
  const rand = mulberry32(seed);
  const base = { inputs, sink, checkpoint, deadLetter, keyed, interval, workers, extra: opts.extra ?? [] };
  const t0 = Date.now();

  const writer = await startWriter({
    streams: streams.map((s) => ({ name: s.name, path: s.path, rotateAtMs: s.rotateAtMs })),
    rate,
    seed,
    ...(opts.writer ?? {}),
  });
  let cycles;
  let writerSummary;
  try {
    cycles = await crashLoop({
      kills,
      args: engineArgs(base),
      sink,
      checkpoint,
      rand,
      minDelayMs,
      maxDelayMs,
      anchor: opts.anchor,
      outputDelayMs: opts.outputDelayMs,
      afterKill: async (n) => {
        if (n !== opts.rotateAfterKill) return;
        // logrotate while ordertail is down: rotate now, let the writer drain into the
        // renamed file and start the new one before the engine comes back.
        writer.child.kill('SIGUSR2');
        await sleep(300);
        log(`rotated while the engine was down (after kill ${n})`);
      },
      onCycle: (c) =>
        log(`kill ${c.cycle}/${kills} ${c.delayMs} ms after ${c.anchor === 'spawn' ? 'start' : `first output (${c.firstOutputMs} ms)`}: sink ${c.sizeAtKill} B, committed ${c.committed ?? '?'} B`),
    });
  } finally {
    writerSummary = await writer.stop();
  }
  const crashMs = Date.now() - t0;
  await opts.beforeFinal?.({ sink, checkpoint, writerSummary });

  // Catch up: one --once run with the same checkpoint, then a second one that must add nothing.
  const final = await runEngine(engineArgs({ ...base, once: true }));
  const afterFinal = sizeOf(sink);
  const again = opts.skipRerun ? undefined : await runEngine(engineArgs({ ...base, once: true }));
  const afterAgain = sizeOf(sink);

  const { expected, lines, repeats, uniqueIds } = expectedRecords(
    writerSummary.streams.map((s) => s.files),
    { keyed },
  );
  const report = verifyOutput(sink, expected);
  const deadLetters = existsSync(deadLetter) ? readFileSync(deadLetter, 'utf8').split('\n').filter(Boolean) : [];
  const problems = [...cycles.flatMap((c) => c.problems), ...logLines(final.stderr, 40), ...(again ? logLines(again.stderr, 40) : [])];
  const writtenByWriter = writerSummary.streams.reduce((s, x) => s + x.lines, 0);

  const result = {
    keyed,
    seed,
    kills,
    ok:
      report.ok &&
      final.code === 0 &&
      (!again || (again.code === 0 && afterAgain === afterFinal)) &&
      deadLetters.length === 0 &&
      writtenByWriter === lines,
    report,
    final: { code: final.code, signal: final.signal, ms: final.ms, stderr: final.stderr.slice(-4000) },
    rerun: again ? { code: again.code, ms: again.ms, added: afterAgain - afterFinal, stderr: again.stderr.slice(-4000) } : undefined,
    cycles,
    killsWhileWriting: cycles.filter((c) => c.wrote).length,
    medianFirstOutputMs: median(cycles.map((c) => c.firstOutputMs).filter((x) => x !== undefined)),
    killsWithUncommitted: cycles.filter((c) => (c.uncommitted ?? 0) > 0).length,
    writer: writerSummary,
    logLines: lines,
    writtenByWriter,
    repeats,
    uniqueIds,
    splits: writerSummary.streams.reduce((s, x) => s + x.splits, 0),
    deadLetters: deadLetters.slice(0, 5),
    deadLetterCount: deadLetters.length,
    problems,
    crashMs,
    totalMs: Date.now() - t0,
  };
  return result;
}

function median(xs) {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One paragraph for a failure message or a log. */
export function describeResult(r) {
  const lines = [
    `${r.keyed ? 'keyed' : 'unkeyed'} seed=${r.seed}: ${r.kills} kills (${r.killsWhileWriting} while the sink grew, ${r.killsWithUncommitted} with uncommitted sink bytes; restart to first output ~${r.medianFirstOutputMs ?? '?'} ms) in ${r.crashMs} ms; ` +
      `writer ${r.writtenByWriter} lines (${r.repeats} repeats, ${r.splits} split writes), log holds ${r.logLines}`,
    formatReport(r.report),
    `final --once: exit ${r.final.code}${r.final.signal ? ` (${r.final.signal})` : ''} in ${r.final.ms} ms` +
      (r.rerun ? `; re-run: exit ${r.rerun.code}, added ${r.rerun.added} B` : ''),
  ];
  if (r.deadLetterCount) lines.push(`dead letters: ${r.deadLetterCount}, first: ${r.deadLetters.join('\n  ')}`);
  if (r.problems.length) {
    const seen = new Map();
    for (const p of r.problems) seen.set(`${p.level} ${p.msg}`, (seen.get(`${p.level} ${p.msg}`) ?? 0) + 1);
    lines.push(`engine warnings/errors: ${[...seen].slice(0, 8).map(([m, n]) => `${n}x ${m.slice(0, 300)}`).join('\n  ')}`);
  }
  if (!r.ok && r.final.code !== 0) lines.push(`final stderr: ${r.final.stderr}`);
  if (!r.ok && r.rerun && r.rerun.code !== 0) lines.push(`re-run stderr: ${r.rerun.stderr}`);
  return lines.join('\n');
}
