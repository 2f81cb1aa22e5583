#!/usr/bin/env node
// A child-process log writer for rotation tests: appends NDJSON lines with unique,
// increasing ids at a steady rate, the way a real application writes its log.
//
//   node line-writer.mjs --file PATH [--mode reopen|held] [--rate 8000] [--duration 4000]
//                        [--prefix w] [--pad 40] [--tick 5]
//
// --mode reopen  open(PATH, 'a') + write + close for every batch: an application
//                that reopens its log (what logrotate's `create` mode needs).
// --mode held    one descriptor opened once with O_APPEND and held to the end:
//                an application that never reopens (what `copytruncate` is for).
//
// Every batch is ONE write(2) of whole lines, so a line is never split by a
// rotation. Lines: {"id":"<prefix>-<seq>","seq":<seq>,"timestamp":<ms>,"pad":"..."}.
// Stops after --duration ms or on SIGTERM/SIGINT (after the current batch), then
// prints one JSON line to stdout: {"written":N,"firstSeq":0,"lastSeq":N-1,"elapsedMs":..,"rate":..}.
// Before the first line it prints {"ready":true} so the parent can start its clock.
import { closeSync, openSync, writeSync } from 'node:fs';

function parseArgs(argv) {
  const out = { file: undefined, mode: 'reopen', rate: 8000, duration: 4000, prefix: 'w', pad: 40, tick: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const value = argv[i + 1];
    if (!key || value === undefined || !(key in out)) {
      process.stderr.write(`line-writer: bad argument ${argv[i]}\n`);
      process.exit(2);
    }
    out[key] = key === 'file' || key === 'mode' || key === 'prefix' ? value : Number(value);
  }
  if (!out.file || (out.mode !== 'reopen' && out.mode !== 'held')) {
    process.stderr.write('line-writer: --file is required and --mode is reopen|held\n');
    process.exit(2);
  }
  return out;
}

const opts = parseArgs(process.argv.slice(2));
const pad = 'x'.repeat(Math.max(0, opts.pad));
let seq = 0;
let stopping = false;
let heldFd = opts.mode === 'held' ? openSync(opts.file, 'a') : -1;

process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));

function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function writeBatch(n) {
  if (n <= 0) return;
  const now = Date.now();
  let text = '';
  for (let i = 0; i < n; i++, seq++) {
    text += `{"id":"${opts.prefix}-${seq}","seq":${seq},"timestamp":${now},"pad":"${pad}"}\n`;
  }
  const buf = Buffer.from(text);
  if (opts.mode === 'held') {
    writeAll(heldFd, buf);
  } else {
    const fd = openSync(opts.file, 'a');
    try {
      writeAll(fd, buf);
    } finally {
      closeSync(fd);
    }
  }
}

process.stdout.write('{"ready":true}\n');
const started = performance.now();

function tick() {
  const elapsed = performance.now() - started;
  const due = Math.floor((Math.min(elapsed, opts.duration) * opts.rate) / 1000);
  // Never more than one second's worth in one write (after a stall), to keep batches realistic.
  writeBatch(Math.min(due - seq, Math.max(1, opts.rate)));
  if (stopping || (elapsed >= opts.duration && seq >= due)) {
    if (heldFd >= 0) closeSync(heldFd);
    heldFd = -1;
    const elapsedMs = performance.now() - started;
    process.stdout.write(
      JSON.stringify({ written: seq, firstSeq: 0, lastSeq: seq - 1, elapsedMs: Math.round(elapsedMs), rate: Math.round((seq * 1000) / elapsedMs) }) + '\n',
    );
    return;
  }
  setTimeout(tick, opts.tick);
}
tick();
