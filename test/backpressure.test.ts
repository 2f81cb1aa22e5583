// Backpressure through a stalled stdout pipe: the CLI reads 2 GiB of NDJSON with
// `--sink stdout --once`, its stdout is a pipe this test reads, and the test stops
// reading three times for 2.5 s. Bounded rings, buffers and staging mean the engine
// must stop reading while its sink is blocked, and its peak RSS (VmHWM, polled from
// /proc every 100 ms) must stay ≤ 256 MB; every record must still come out exactly
// once (line count, sum and min/max of sequence numbers, fixed line length).
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const CLI = resolve(import.meta.dirname, '../bin/ordertail.js');
const TOTAL_BYTES = 2 * 1024 ** 3;
const BLOCK_BYTES = 4 * 1024 ** 2;
const RSS_LIMIT_BYTES = 256 * 1024 * 1024;
/** Stop reading the engine's stdout when this share of the output has arrived, for STALL_MS each. */
const STALL_AT = [0.2, 0.45, 0.7];
const STALL_MS = 2500;

/**
 * One record layout, every line the same length: `{"seq":"NNNNNNNNNN",...}`. The
 * sequence number is zero-padded digits inside a string (leading zeros are not valid
 * JSON numbers), patched in place per block, so generating 2 GiB is a memcpy loop.
 */
const PREFIX = '{"seq":"';
const SEQ_DIGITS = 10;
const TEMPLATE =
  PREFIX +
  '0'.repeat(SEQ_DIGITS) +
  '","sym":"BTC-USDT","side":"buy","type":"limit","px":43123.5,"qty":0.015,"venue":"binance","acct":"acct-00042","note":"' +
  'x'.repeat(60) +
  '"}\n';
const LINE = Buffer.byteLength(TEMPLATE);
const PER_BLOCK = Math.floor(BLOCK_BYTES / LINE);
const BLOCKS = Math.ceil(TOTAL_BYTES / (PER_BLOCK * LINE));
const RECORDS = BLOCKS * PER_BLOCK;

function writeInput(path: string): void {
  const block = Buffer.alloc(PER_BLOCK * LINE);
  for (let i = 0; i < PER_BLOCK; i++) block.write(TEMPLATE, i * LINE, 'latin1');
  const fd = openSync(path, 'w');
  try {
    for (let b = 0; b < BLOCKS; b++) {
      for (let i = 0; i < PER_BLOCK; i++) {
        let v = b * PER_BLOCK + i;
        for (let d = i * LINE + PREFIX.length + SEQ_DIGITS - 1, end = i * LINE + PREFIX.length; d >= end; d--) {
          block[d] = 0x30 + (v % 10);
          v = Math.floor(v / 10);
        }
      }
      let done = 0;
      while (done < block.length) done += writeSync(fd, block, done, block.length - done);
    }
  } finally {
    closeSync(fd);
  }
}

/** Counts lines of the engine's output and checks each one's length and sequence number, across chunk boundaries. */
class OutputCheck {
  lines = 0;
  bytes = 0;
  seqSum = 0;
  seqMin = Infinity;
  seqMax = -Infinity;
  bad: string[] = [];
  private carry: Buffer | undefined;

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let pos = 0;
    if (this.carry) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      const line = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = undefined;
      this.line(line, 0, line.length);
      pos = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      this.line(chunk, pos, nl);
      pos = nl + 1;
    }
    if (pos < chunk.length) this.carry = Buffer.from(chunk.subarray(pos));
  }

  /** buf[start, end) is one line without its newline. */
  private line(buf: Buffer, start: number, end: number): void {
    this.lines++;
    const d0 = start + PREFIX.length;
    let seq = 0;
    let ok = end - start === LINE - 1 && buf[start] === 0x7b && buf[d0 + SEQ_DIGITS] === 0x22;
    for (let d = d0; ok && d < d0 + SEQ_DIGITS; d++) {
      const c = buf[d]! - 0x30;
      if (c < 0 || c > 9) ok = false;
      seq = seq * 10 + c;
    }
    if (!ok) {
      if (this.bad.length < 5) this.bad.push(buf.toString('utf8', start, Math.min(end, start + 200)));
      return;
    }
    this.seqSum += seq;
    if (seq < this.seqMin) this.seqMin = seq;
    if (seq > this.seqMax) this.seqMax = seq;
  }

  get trailing(): number {
    return this.carry?.length ?? 0;
  }
}

/** VmHWM and VmRSS of a live process, bytes; undefined once it is gone (or a zombie). */
function memoryOf(pid: number): { hwm: number; rss: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number | undefined => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const hwm = kb('VmHWM');
  const rss = kb('VmRSS');
  return hwm === undefined || rss === undefined ? undefined : { hwm, rss };
}

/** Bytes the process (all its threads) has read through read()/pread() so far. */
function bytesReadBy(pid: number): number | undefined {
  try {
    const m = /^rchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the 2 GiB go: /dev/shm when it has room (writing 2 GiB to a disk takes seconds
 * and loads the disk for everything else running), else the usual temp dir.
 */
function bigFileDir(): { dir: string; remove: boolean } {
  try {
    // 2 GiB of RAM each: remove what a killed earlier run left behind (older than 10 min).
    for (const name of readdirSync('/dev/shm')) {
      const path = join('/dev/shm', name);
      if (name.startsWith('ordertail-backpressure-') && Date.now() - statSync(path).mtimeMs > 600_000) rmSync(path, { recursive: true, force: true });
    }
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize > TOTAL_BYTES * 2) return { dir: mkdtempSync('/dev/shm/ordertail-backpressure-'), remove: true };
  } catch {
    /* no /dev/shm */
  }
  return { dir: workdir('ordertail-backpressure-'), remove: false };
}

const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MiB`;

let killChild: (() => void) | undefined;
afterEach(() => {
  killChild?.();
  killChild = undefined;
});

describe('backpressure from a stalled stdout pipe', () => {
  it('2 GiB through --sink stdout with 3 read stalls: peak RSS ≤ 256 MB, every record once', { timeout: 120_000 }, async () => {
    const { dir, remove } = bigFileDir();
    const input = join(dir, 'big.ndjson');
    const t0 = Date.now();
    writeInput(input);
    const genMs = Date.now() - t0;
    try {
      // dedupKey nosuchfield: every record is "without key" and passes, so the dedup
      // table stays empty and any duplicate emission shows in the count and sum.
      const child = spawn(
        process.execPath,
        [CLI, 'run', '--input', input, '--sink', 'stdout', '--once', '--no-metrics', '--workers', '2', '--dedup-key', 'nosuchfield', '--log-level', 'warn'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      killChild = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      };
      const pid = child.pid!;
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (s: string) => (stderr += s));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));

      // Peak memory: VmHWM is the kernel's own high-water mark; VmRSS maxed as a cross-check.
      const check = new OutputCheck();
      const expectedBytes = RECORDS * LINE;
      // Flat: the largest VmRSS once a quarter of the output is out, against the largest before.
      let peakHwm = 0;
      let peakRss = 0;
      let peakRssWarm = 0;
      let peakRssLater = 0;
      let samples = 0;
      const sample = (): void => {
        const m = memoryOf(pid);
        if (!m) return;
        samples++;
        peakHwm = Math.max(peakHwm, m.hwm);
        peakRss = Math.max(peakRss, m.rss);
        if (check.bytes < expectedBytes / 4) peakRssWarm = Math.max(peakRssWarm, m.rss);
        else peakRssLater = Math.max(peakRssLater, m.rss);
      };
      sample();
      const poller = setInterval(sample, 100);
      const stalls: { atBytes: number; readDuringStall: number | undefined; ms: number }[] = [];
      let stalling = false;
      const outputDone = new Promise<void>((res) => child.stdout!.on('end', () => res()));
      child.stdout!.on('data', (chunk: Buffer) => {
        check.push(chunk);
        if (!stalling && stalls.length < STALL_AT.length && check.bytes >= STALL_AT[stalls.length]! * expectedBytes) {
          stalling = true;
          child.stdout!.pause();
          const stall = { atBytes: check.bytes, readDuringStall: undefined as number | undefined, ms: 0 };
          stalls.push(stall);
          const began = Date.now();
          // Give the pipe and the engine's buffers 500 ms to fill, then measure how much
          // more of the input the engine reads while nothing leaves it.
          setTimeout(() => {
            const before = bytesReadBy(pid);
            setTimeout(() => {
              const after = bytesReadBy(pid);
              if (before !== undefined && after !== undefined) stall.readDuringStall = after - before;
              sample();
              stall.ms = Date.now() - began;
              stalling = false;
              child.stdout!.resume();
            }, STALL_MS - 500);
          }, 500);
        }
      });

      await outputDone;
      const { code, signal } = await exited;
      clearInterval(poller);
      const totalMs = Date.now() - t0;

      const report = {
        input: `${mib(RECORDS * LINE)}, ${RECORDS} records of ${LINE} B, generated in ${genMs} ms`,
        run: `${totalMs - genMs} ms including ${STALL_AT.length} × ${STALL_MS} ms stalls`,
        peakHwm: mib(peakHwm),
        peakRss: mib(peakRss),
        peakRssFirstQuarter: mib(peakRssWarm),
        peakRssRest: mib(peakRssLater),
        samples,
        stalls: stalls.map((s) => ({ at: mib(s.atBytes), readDuringStall: s.readDuringStall === undefined ? '?' : mib(s.readDuringStall), ms: s.ms })),
      };
      console.log(`backpressure: ${JSON.stringify(report)}`);

      expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
      expect(stalls.length, 'all stalls happened').toBe(STALL_AT.length);
      expect(check.bad, 'malformed output lines').toEqual([]);
      expect(check.trailing, 'output ends with a newline').toBe(0);
      expect(check.lines).toBe(RECORDS);
      expect(check.bytes).toBe(expectedBytes);
      expect(check.seqMin).toBe(0);
      expect(check.seqMax).toBe(RECORDS - 1);
      expect(check.seqSum).toBe((RECORDS * (RECORDS - 1)) / 2);
      expect(samples, 'memory samples taken').toBeGreaterThan(10);
      // Flat, not merely under the cap: what the engine holds after the first quarter of the
      // output may exceed what it held during it by no more than GC slack.
      expect(peakRssLater, `RSS grew: ${report.peakRssFirstQuarter} in the first quarter, ${report.peakRssRest} after`).toBeLessThanOrEqual(peakRssWarm + 48 * 1024 ** 2);
      // A stalled sink stops reading: while nothing leaves the engine for 2 s it may only
      // fill the buffers it already has (workers × 2 + 2 ranges of 4 MiB), never read on.
      for (const s of stalls) {
        expect(s.readDuringStall, 'rchar readable from /proc').toBeDefined();
        expect(s.readDuringStall!, `input read during a stall: ${JSON.stringify(report.stalls)}`).toBeLessThanOrEqual(64 * 1024 ** 2);
      }
      // Last, so that a failure here means everything else held.
      expect(peakHwm, `peak RSS ${mib(peakHwm)}`).toBeLessThanOrEqual(RSS_LIMIT_BYTES);
      expect(peakRss).toBeLessThanOrEqual(RSS_LIMIT_BYTES);
    } finally {
      rmSync(remove ? dir : input, { recursive: true, force: true });
    }
  });
});
