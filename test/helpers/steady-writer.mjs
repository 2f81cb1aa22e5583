#!/usr/bin/env node
/**
 * A log writer for crash tests: appends NDJSON order records to one or more
 * logs at a steady total rate, until SIGTERM/SIGINT (or `durationMs`).
 *
 * usage: node steady-writer.mjs '<json config>'
 *   {
 *     streams: [{ name: 's0', path: '/tmp/x/a.log', rotateAtMs?: 4000 }],
 *     rate: 3000,            // lines per second, all streams together
 *     tickMs: 10,            // one small batch per stream per tick
 *     repeatProb: 0.05,      // share of lines that repeat a recent id (same stream, well inside the dedup window)
 *     partialProb: 0.03,     // per stream and tick: end the batch in the middle of a line
 *     longPauseProb: 0.2,    // share of split lines whose rest comes 100-400 ms later (else 5-30 ms)
 *     rotateDrainMs: 60,     // after rename, keep appending to the renamed file this long, then create a new one
 *     seed: 1,
 *     durationMs?: 0         // stop by itself after this long (0 = only on a signal)
 *   }
 *
 * Every line is a JSON object of ~150-300 bytes:
 *   {"id":"s0-00000042","seq":42,"stream":"s0","timestamp":...,"sym":...,"side":...,"px":...,"qty":...,"pad":"..."}
 * `seq` is unique per stream and counts lines; a repeated line carries the id of an
 * earlier line of the same stream and "repeat_of":<its seq>. Nothing repeats across a
 * rotation, so "first occurrence" is well defined (rotated file first, then the new file).
 * Some `pad`s hold multi-byte UTF-8, and line splits fall on any byte, so a split may cut
 * a character in two.
 *
 * SIGUSR2 rotates the streams that have a rotateAtMs right away (at the next tick).
 * On SIGTERM it completes a line in flight, closes its files and prints one JSON summary
 * line on stdout: { streams: [{ name, lines, repeats, splits, rotations, files }], elapsedMs }.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';

const config = JSON.parse(process.argv[2] ?? '{}');
const rate = config.rate ?? 3000;
const tickMs = config.tickMs ?? 10;
const repeatProb = config.repeatProb ?? 0.05;
const partialProb = config.partialProb ?? 0.03;
const longPauseProb = config.longPauseProb ?? 0.2;
const rotateDrainMs = config.rotateDrainMs ?? 60;
const durationMs = config.durationMs ?? 0;

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(config.seed ?? 1);
const pick = (arr) => arr[Math.floor(rand() * arr.length)];

const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'XRP-EUR', 'ADA-USDT', 'DOGE-USD'];
const VENUES = ['alpha', 'bravo', 'charlie'];
const PAD_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const PAD_WIDE = ['é', '€', 'ß', 'ø', '日', '本'];

function pad() {
  const n = 10 + Math.floor(rand() * 110);
  let s = '';
  const wide = rand() < 0.25;
  for (let i = 0; i < n; i++) s += wide && rand() < 0.1 ? pick(PAD_WIDE) : PAD_ALPHABET[Math.floor(rand() * PAD_ALPHABET.length)];
  return s;
}

const streams = config.streams.map((s) => ({
  name: s.name,
  path: s.path,
  rotateAtMs: s.rotateAtMs,
  fd: openSync(s.path, 'a'),
  seq: 0,
  owed: 0, // lines due but not yet written (fractional)
  lines: 0,
  repeats: 0,
  splits: 0,
  rotations: 0,
  files: [s.path],
  recent: [], // [{ id, seq }] candidates for repeats
  pendingRest: null, // Buffer: the rest of a split line
  resumeAt: 0,
  drainUntil: 0, // while rotating: renamed file still being written
}));

function makeLine(st) {
  const seq = st.seq++;
  let id;
  let repeatOf;
  if (st.recent.length > 20 && rand() < repeatProb) {
    const r = st.recent[Math.floor(rand() * st.recent.length)];
    id = r.id;
    repeatOf = r.seq;
    st.repeats++;
  } else {
    id = `${st.name}-${String(seq).padStart(8, '0')}`;
    st.recent.push({ id, seq });
    if (st.recent.length > 2000) st.recent.splice(0, 1000);
  }
  const rec = {
    id,
    seq,
    stream: st.name,
    timestamp: Date.now(),
    sym: pick(SYMBOLS),
    side: rand() < 0.5 ? 'buy' : 'sell',
    px: (100 + rand() * 50000).toFixed(2),
    qty: (rand() * 10).toFixed(4),
    venue: pick(VENUES),
    ...(repeatOf !== undefined ? { repeat_of: repeatOf } : {}),
    pad: pad(),
  };
  st.lines++;
  return Buffer.from(JSON.stringify(rec) + '\n');
}

function writeAll(fd, buf) {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}

const started = Date.now();
let lastTick = started;

function rotateIfDue(st, now) {
  if (st.rotateAtMs === undefined || st.rotations > 0) return;
  if (st.drainUntil === 0 && now - started >= st.rotateAtMs && !st.pendingRest) {
    const rotated = `${st.path}.1`;
    renameSync(st.path, rotated); // logrotate `create`: rename; the writer keeps its fd for a while
    st.files.unshift(rotated);
    st.drainUntil = now + rotateDrainMs;
  } else if (st.drainUntil !== 0 && now >= st.drainUntil && !st.pendingRest) {
    closeSync(st.fd);
    st.fd = openSync(st.path, 'a'); // the new, empty file
    st.recent = []; // no repeat spans two files: which of them is read first is not defined
    st.drainUntil = 0;
    st.rotations++;
  }
}

function tick() {
  const now = Date.now();
  const due = ((now - lastTick) / 1000) * (rate / streams.length);
  lastTick = now;
  const cap = Math.ceil((rate / streams.length) * 0.05); // at most 50 ms worth of lines per batch
  for (const st of streams) {
    st.owed = Math.min(st.owed + due, (rate / streams.length) * 0.5); // a pause is caught up, up to 500 ms of lines
    rotateIfDue(st, now);
    if (st.pendingRest) {
      if (now < st.resumeAt) continue; // paused in the middle of a line
      writeAll(st.fd, st.pendingRest);
      st.pendingRest = null;
    }
    const n = Math.min(Math.floor(st.owed), cap);
    if (n === 0) continue;
    st.owed -= n;
    const parts = [];
    for (let i = 0; i < n; i++) parts.push(makeLine(st));
    let batch = Buffer.concat(parts);
    if (rand() < partialProb) {
      const last = parts[parts.length - 1];
      const cut = 1 + Math.floor(rand() * (last.length - 1)); // any byte, may split a UTF-8 character
      const keep = batch.length - last.length + cut;
      st.pendingRest = batch.subarray(keep);
      batch = batch.subarray(0, keep);
      st.resumeAt = now + (rand() < longPauseProb ? 100 + rand() * 300 : 5 + rand() * 25);
      st.splits++;
    }
    writeAll(st.fd, batch);
  }
}

const timer = setInterval(tick, tickMs);
let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  for (const st of streams) {
    if (st.pendingRest) writeAll(st.fd, st.pendingRest);
    st.pendingRest = null;
    closeSync(st.fd);
  }
  const summary = {
    elapsedMs: Date.now() - started,
    streams: streams.map(({ name, lines, repeats, splits, rotations, files }) => ({ name, lines, repeats, splits, rotations, files })),
  };
  process.stdout.write(JSON.stringify(summary) + '\n', () => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// SIGUSR2: rotate every stream that has a rotateAtMs now (once), instead of at that time.
process.on('SIGUSR2', () => {
  for (const st of streams) if (st.rotateAtMs !== undefined && st.rotations === 0 && st.drainUntil === 0) st.rotateAtMs = 0;
});
if (durationMs > 0) setTimeout(stop, durationMs);
process.stdout.write('ready\n');
