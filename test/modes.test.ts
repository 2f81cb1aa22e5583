/**
 * Modes (README, "Modes"): legacy mode reads closed files once each, on the
 * batch clock, as the hourly batch job did: never a file still being written,
 * never a file twice (also across a restart with a checkpoint). Hybrid mode
 * runs both paths through the one dedup table: every order once in the sink,
 * and the comparison's counts equal a reference computed from the input.
 * Library engines and the real CLI on real files; every wait is on a condition.
 */
import { appendFileSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from './helpers/cli-process.js';
import { readLines, until, workdir } from './helpers/workdir.js';
import { ConfigError, Engine } from '../dist/src/index.js';

/** An hourly file of `count` orders, last modified `ageMs` ago (closed when older than the batch delay). */
function hourFile(dir: string, hour: number, count: number, ageMs: number, repeats: readonly string[] = []): string[] {
  const path = join(dir, `orders-${String(hour).padStart(2, '0')}.ndjson`);
  const t = Date.now() - 3_600_000 * (24 - hour);
  // Repeats at the end: a file starting with another's first bytes would be taken for a copy of it (copytruncate).
  const lines = [...Array.from({ length: count }, (_, i) => `{"id":"h${hour}-${i}","timestamp":${t + i},"qty":${i}}`), ...repeats];
  writeFileSync(path, lines.join('\n') + '\n');
  age(path, ageMs);
  return lines;
}

function age(path: string, ageMs: number): void {
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(path, at, at);
}

/** The sink sits outside the input glob. */
function sinkPath(dir: string): string {
  mkdirSync(join(dir, 'out'));
  return join(dir, 'out', 'sink.ndjson');
}

const sorted = (lines: readonly string[]): string[] => [...lines].sort();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Batches run every 300 ms: this long is several batches, even on a loaded machine. */
const SEVERAL_BATCHES_MS = 1500;

describe('legacy mode', () => {
  it('reads closed files once on schedule, not open ones, and not twice', async () => {
    const dir = workdir();
    const out = sinkPath(dir);
    const expected = [...hourFile(dir, 0, 200, 3_600_000), ...hourFile(dir, 1, 150, 600_000)];
    const open = join(dir, 'orders-02.ndjson');
    writeFileSync(open, '');
    let n = 0;
    const openLines: string[] = [];
    const write = (): void => {
      const line = `{"id":"h2-${n}","timestamp":${Date.now()},"qty":${n}}`;
      n++;
      openLines.push(line);
      appendFileSync(open, line + '\n');
    };
    // Written every 40 ms: never unmodified for the batch delay, even with a loaded machine's timer delays.
    const writer = setInterval(write, 40);
    const engine = new Engine({ input: join(dir, '*.ndjson'), mode: 'legacy', batchEvery: '300ms', batchDelay: '600ms', sink: `file:${out}`, workers: 2 });
    const infos: string[] = [];
    engine.on('info', (m) => infos.push(m));
    try {
      await engine.start();
      await until(() => readLines(out).length >= expected.length, 20_000, 'the closed files in the sink');
      await sleep(SEVERAL_BATCHES_MS);
      // The open file is not touched while it is being written.
      expect(sorted(readLines(out))).toEqual(sorted(expected));
      expect(engine.files().map((f) => f.path).sort()).toEqual([join(dir, 'orders-00.ndjson'), join(dir, 'orders-01.ndjson')]);

      // The writer is done with it: a later batch takes it, whole.
      clearInterval(writer);
      await until(() => readLines(out).length >= expected.length + openLines.length, 20_000, 'the closed file in the sink');
      // A closed file that appears later (copied in with its old mtime) is taken too.
      const late = hourFile(dir, 3, 50, 3_600_000);
      await until(() => readLines(out).length >= expected.length + openLines.length + late.length, 20_000, 'the late file in the sink');
      await sleep(SEVERAL_BATCHES_MS);
      expect(sorted(readLines(out))).toEqual(sorted([...expected, ...openLines, ...late]));
      expect(infos.filter((m) => m.startsWith('batch:')).length).toBe(3);
    } finally {
      clearInterval(writer);
      await engine.stop();
    }
  }, 60_000);

  it('remembers processed files in the checkpoint: a restart does not read them again', async () => {
    const dir = workdir();
    const out = sinkPath(dir);
    const checkpoint = join(dir, 'state');
    const options = { input: join(dir, '*.ndjson'), mode: 'legacy', batchEvery: '300ms', batchDelay: '200ms', sink: `file:${out}`, checkpoint, workers: 2 } as const;
    const first = [...hourFile(dir, 0, 120, 3_600_000), ...hourFile(dir, 1, 80, 3_600_000)];
    const a = new Engine(options);
    await a.start();
    try {
      await until(() => readLines(out).length >= first.length, 20_000, 'the first run\'s files in the sink');
    } finally {
      await a.stop();
    }
    // Written while the engine was down.
    const second = hourFile(dir, 2, 60, 3_600_000);
    const b = new Engine(options);
    await b.start();
    try {
      await until(() => readLines(out).length >= first.length + second.length, 20_000, 'the new file in the sink');
      await sleep(SEVERAL_BATCHES_MS);
      expect(sorted(readLines(out))).toEqual(sorted([...first, ...second]));
      expect(b.stats().recordsEmitted).toBe(second.length);
    } finally {
      await b.stop();
    }
  }, 60_000);

  it('--once reads the closed files present now and exits; open ones wait for a later run', async () => {
    const dir = workdir();
    const out = join(dir, 'sink.ndjson');
    const closed = [...hourFile(dir, 0, 100, 3_600_000), ...hourFile(dir, 1, 100, 3_600_000)];
    const open = join(dir, 'orders-02.ndjson');
    appendFileSync(open, '{"id":"h2-0","timestamp":1,"qty":0}\n');
    const r = await runCli(['run', '--input', join(dir, '*.ndjson'), '--mode', 'legacy', '--batch-delay', '1h', '--once', '--sink', `file:${out}`, '--no-metrics', '--workers', '2'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(sorted(readLines(out))).toEqual(sorted(closed));
  }, 40_000);

  it('mode and the batch settings are validated, and refused by name at run time', async () => {
    const dir = workdir();
    hourFile(dir, 0, 10, 3_600_000);
    expect(() => new Engine({ input: join(dir, '*.ndjson'), mode: 'nightly' as 'legacy' })).toThrow(/mode: expected realtime \| legacy/);
    expect(() => new Engine({ input: join(dir, '*.ndjson'), batchEvery: '0s' })).toThrow(ConfigError);
    const engine = new Engine({ input: join(dir, '*.ndjson'), mode: 'legacy', batchEvery: '300ms', batchDelay: '200ms', workers: 1 });
    await engine.start();
    try {
      expect(() => engine.reload({ input: join(dir, '*.ndjson'), mode: 'realtime', batchEvery: '300ms', batchDelay: '200ms', workers: 1 })).toThrow(/`mode` cannot change at run time/);
      expect(engine.options.mode).toBe('legacy');
    } finally {
      await engine.stop();
    }
  }, 30_000);
});

describe('mode and batch settings at a reload (library)', () => {
  it('legacy: a new batchEvery applies to the running batch clock', async () => {
    const dir = workdir();
    const out = sinkPath(dir);
    const first = hourFile(dir, 0, 100, 3_600_000);
    const options = { input: join(dir, '*.ndjson'), mode: 'legacy', batchEvery: '1h', batchDelay: '200ms', sink: `file:${out}`, workers: 2 } as const;
    const engine = new Engine(options);
    await engine.start();
    try {
      // The batch at start; the next would be an hour later.
      await until(() => readLines(out).length >= first.length, 20_000, 'the first batch');
      const late = hourFile(dir, 1, 80, 3_600_000);
      await sleep(SEVERAL_BATCHES_MS);
      expect(readLines(out)).toHaveLength(first.length);
      expect(engine.reload({ ...options, batchEvery: '300ms' }).applied).toEqual(['batchEvery']);
      await until(() => readLines(out).length >= first.length + late.length, 20_000, 'a batch on the new clock');
      expect(sorted(readLines(out))).toEqual(sorted([...first, ...late]));
    } finally {
      await engine.stop();
    }
  }, 40_000);

  it('realtime → hybrid → realtime: the batch path runs only in between; its counts stay', async () => {
    const dir = workdir();
    const out = sinkPath(dir);
    const closed = [...hourFile(dir, 0, 200, 3 * 3_600_000), ...hourFile(dir, 1, 200, 30 * 60_000)];
    const options = { input: join(dir, '*.ndjson'), mode: 'realtime', batchEvery: '200ms', batchDelay: '500ms', ignoreOlder: '2h', dedupWindow: '48h', sink: `file:${out}`, workers: 2 } as const;
    const engine = new Engine(options);
    const infos: string[] = [];
    engine.on('info', (m) => infos.push(m));
    await engine.start();
    try {
      // Realtime: hour 0 is older than ignoreOlder, so only hour 1 is read.
      await until(() => readLines(out).length >= 200, 20_000, 'hour 1');
      await sleep(SEVERAL_BATCHES_MS);
      expect(engine.modeComparison()).toBeUndefined();
      expect(readLines(out)).toHaveLength(200);

      expect(engine.reload({ ...options, mode: 'hybrid' }).applied).toEqual(['mode']);
      expect(engine.options.mode).toBe('hybrid');
      // The batch path reads both closed files: hour 0 is new to the sink, hour 1 all duplicates.
      await until(() => engine.modeComparison()?.counts.batchFiles === 2, 20_000, 'the batch path over both files');
      expect(sorted(readLines(out))).toEqual(sorted(closed));
      const during = engine.modeComparison()!.counts;
      expect(during.batch).toEqual({ first: 200, notFirst: 200, only: 200 });

      expect(engine.reload({ ...options, mode: 'realtime' }).applied).toEqual(['mode']);
      await until(() => infos.some((m) => m.includes('the batch path stopped')), 20_000, 'the batch path to stop');
      // A closed file that appears now is the live path's alone (no batch path to read it again).
      const later = hourFile(dir, 2, 50, 20 * 60_000);
      await until(() => readLines(out).length >= closed.length + later.length, 20_000, 'the new file');
      await sleep(SEVERAL_BATCHES_MS);
      expect(engine.modeComparison()!.counts.batchFiles).toBe(2);
      expect(engine.modeComparison()!.counts.batch).toEqual(during.batch);
      expect(sorted(readLines(out))).toEqual(sorted([...closed, ...later]));
      // Legacy is refused with the reason, and nothing of that reload applies.
      expect(() => engine.reload({ ...options, mode: 'legacy', batchEvery: '1h' })).toThrow(/`mode` cannot change at run time between realtime and legacy: legacy mode tails nothing/);
      expect(engine.options.batchEveryMs).toBe(200);
    } finally {
      await engine.stop();
    }
  }, 60_000);
});

describe('mode switches, many (library)', () => {
  it('memory stays flat over 40 hybrid periods (the batch paths share their range buffers)', async () => {
    const dir = workdir();
    // Four closed files of ~1 MB: every hybrid period's batch path reads them all.
    for (let h = 0; h < 4; h++) hourFile(dir, h, 20_000, 3_600_000);
    const options = { input: join(dir, '*.ndjson'), mode: 'realtime', batchEvery: '50ms', batchDelay: '1s', sink: 'none', dedupWindow: '48h', workers: 2 } as const;
    const engine = new Engine(options);
    await engine.start();
    const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;
    const periods = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const files = engine.modeComparison()?.counts.batchFiles ?? 0;
        engine.reload({ ...options, mode: 'hybrid' });
        await until(() => (engine.modeComparison()?.counts.batchFiles ?? 0) >= files + 4, 20_000, 'a batch path over the 4 files');
        engine.reload(options);
        await sleep(20);
      }
    };
    try {
      await until(() => engine.stats().recordsEmitted === 80_000, 20_000, 'the files read');
      await periods(10);
      const before = rssMiB();
      await periods(30);
      const grown = rssMiB() - before;
      // A new set of range buffers per batch path (what this guards against) grows by the pages the ranges touched, every period.
      expect(grown, `RSS grew ${grown.toFixed(1)} MiB over 30 hybrid periods`).toBeLessThan(40);
      expect(engine.modeComparison()!.counts.batchFiles).toBe(160);
      expect(engine.stats().recordsEmitted).toBe(80_000);
    } finally {
      await engine.stop();
    }
  }, 90_000);
});

interface ComparisonCounts {
  live: { first: number; notFirst: number; only: number };
  batch: { first: number; notFirst: number; only: number };
  lagSeconds: { count: number; p50: number; max: number };
  batchFiles: number;
}

describe('hybrid mode', () => {
  it('a replayed day plus a live file: every order once, comparison counts equal the reference', async () => {
    const dir = workdir();
    const out = sinkPath(dir);
    // Hours 0-1 closed long ago: the live path is told to ignore them (ignoreOlder), so only the batch path sees them.
    const ignored = [...hourFile(dir, 0, 300, 3 * 3_600_000), ...hourFile(dir, 1, 300, 3 * 3_600_000)];
    const h2 = hourFile(dir, 2, 400, 50 * 60_000);
    const h3 = hourFile(dir, 3, 400, 40 * 60_000);
    // Duplicates across files the live path reads: its own "not first" records.
    const h4 = hourFile(dir, 4, 400, 30 * 60_000, h3.slice(0, 25));
    const h5 = hourFile(dir, 5, 400, 20 * 60_000);
    const liveFile = join(dir, 'orders-live.ndjson');
    const liveLines: string[] = [h5[0]!];
    writeFileSync(liveFile, h5[0]! + '\n');
    let n = 0;
    const writer = setInterval(() => {
      const batch = Array.from({ length: 5 }, () => `{"id":"live-${n}","timestamp":${Date.now()},"qty":${n++}}`);
      liveLines.push(...batch);
      appendFileSync(liveFile, batch.join('\n') + '\n');
    }, 30);
    const warnings: [string, string][] = [];
    const engine = new Engine({
      input: join(dir, '*.ndjson'),
      mode: 'hybrid',
      batchEvery: '300ms',
      // The live file is written every 30 ms: it must not look closed between two writes on a loaded machine.
      batchDelay: '600ms',
      ignoreOlder: '2h',
      dedupWindow: '48h',
      sink: `file:${out}`,
      metricsPort: 0,
      workers: 2,
    });
    engine.on('warning', (m, code) => warnings.push([code, m]));
    try {
      await engine.start();
      await sleep(1000);
      clearInterval(writer);
      const liveRead = [...h2, ...h3, ...h4, ...h5, ...liveLines];
      const everything = [...ignored, ...liveRead];
      const unique = [...new Set(everything)];
      const counts = (): ComparisonCounts => engine.modeComparison()!.counts as ComparisonCounts;
      await until(() => counts().batchFiles === 7 && readLines(out).length >= unique.length, 25_000, 'the batch path to read all 7 files').catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(counts())}, ${readLines(out).length} of ${unique.length} in the sink`);
      });
      expect(sorted(readLines(out))).toEqual(sorted(unique));
      const liveFirst = new Set(liveRead).size;
      const c = counts();
      expect(c.live).toEqual({ first: liveFirst, notFirst: liveRead.length - liveFirst, only: 0 });
      expect(c.batch).toEqual({ first: ignored.length, notFirst: liveRead.length, only: ignored.length });
      // Every record both paths saw has a lag: the batch path came round after the live one.
      expect(c.lagSeconds.count).toBe(liveRead.length);
      expect(c.lagSeconds.p50).toBeGreaterThan(0);
      // One sample line for the missed records, not one per record.
      const missed = warnings.filter(([code]) => code === 'ORDERTAIL_MODE_LIVE_MISSED');
      expect(missed.length).toBe(1);
      expect(missed[0]![1]).toMatch(/orders-0[01]\.ndjson at offset \d+/);

      const json = (await (await fetch(`${engine.metricsUrl}/metrics/comparison`)).json()) as { modes: ComparisonCounts };
      expect(json.modes.live).toEqual(c.live);
      expect(json.modes.batch).toEqual(c.batch);
      const prom = await (await fetch(`${engine.metricsUrl}/metrics`)).text();
      expect(prom).toContain(`ordertail_mode_records_total{path="batch",first="true"} ${ignored.length}`);
      expect(prom).toContain(`ordertail_mode_records_total{path="live",first="true"} ${liveFirst}`);
      expect(prom).toContain(`ordertail_mode_only_total{path="batch"} ${ignored.length}`);
      expect(prom).toContain(`ordertail_mode_path_lag_seconds_count ${liveRead.length}`);
    } finally {
      clearInterval(writer);
      await engine.stop();
    }
  }, 60_000);

  it('the batch clock takes files created after start, and a new file rotated in under a deleted one\'s name', async () => {
    const dir = workdir();
    const out = sinkPath(dir);
    const orders = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `{"id":"${prefix}-${i}","timestamp":${Date.now()},"qty":${i}}`);
    const engine = new Engine({
      input: join(dir, '*.ndjson'),
      mode: 'hybrid',
      batchEvery: '100ms',
      batchDelay: '300ms',
      dedupWindow: '48h',
      sink: `file:${out}`,
      workers: 1,
    });
    const files = (): number => (engine.modeComparison()!.counts as ComparisonCounts).batchFiles;
    try {
      await engine.start();
      // Created after start: no directory listing finds it, the watch does.
      const first = orders('first', 50);
      const path = join(dir, 'orders-a.ndjson');
      writeFileSync(path, first.join('\n') + '\n');
      await until(() => files() === 1, 15_000, 'the batch path to take the new file');
      // Deleted, then a new file under the same name: a file the batch path has not taken.
      rmSync(path);
      await sleep(200);
      const second = orders('second', 40);
      writeFileSync(path, second.join('\n') + '\n');
      await until(() => files() === 2 && readLines(out).length === 90, 15_000, 'the batch path to take the rotated-in file');
      expect(sorted(readLines(out))).toEqual(sorted([...first, ...second]));
      const c = engine.modeComparison()!.counts as ComparisonCounts;
      // The live path emitted every record first; the batch path met each again.
      expect(c.batch).toEqual({ first: 0, notFirst: 90, only: 0 });
    } finally {
      await engine.stop();
    }
  }, 40_000);

  it('is not combined with once', () => {
    expect(() => new Engine({ input: '/nonexistent/*.ndjson', mode: 'hybrid', once: true })).toThrow(/mode: 'hybrid'/);
  });
});

describe("hybrid mode's comparison bookkeeping", () => {
  it('lags recorded per run of records equal those of each record alone, across live marks added and files interleaved', async () => {
    const { PathComparison } = await import('../dist/src/modes/comparison.js');
    const { createLatencyHistogram } = await import('../dist/src/metrics/histograms.js');
    const comparison = new PathComparison(() => {});
    vi.useFakeTimers();
    try {
      const expected = new Map<number, number>();
      const expect1 = (lagMs: number): void => void expected.set(lagMs, (expected.get(lagMs) ?? 0) + 1);
      let now = 1_000_000;
      const marks = new Map<string, [number, number][]>();
      const mark = (file: string, end: number): void => {
        vi.setSystemTime(now);
        comparison.liveRange(file, end);
        marks.set(file, [...(marks.get(file) ?? []), [end, now]]);
      };
      // The live path emitted a and b in several ranges; b gains a mark while the batch path is inside it.
      for (const end of [100, 250, 400]) mark('a', end), (now += 7);
      for (const end of [50, 90]) mark('b', end), (now += 3);
      const batch = (file: string, offset: number): void => {
        vi.setSystemTime(now);
        comparison.batchRecord(file, `/x/${file}`, offset, false);
        const at = marks.get(file)!.find(([end]) => end > offset);
        if (at) expect1(Math.max(1, now - at[1]));
      };
      now += 5_000;
      for (const offset of [0, 40, 99, 100, 180]) batch('a', offset);
      batch('b', 10);
      batch('a', 260);
      now += 2;
      batch('a', 300);
      batch('b', 60);
      // Past b's last mark (not emitted by the live path yet), then emitted.
      batch('b', 95);
      mark('b', 120);
      batch('b', 110);
      batch('a', 399);
      batch('a', 400);
      comparison.batchFileDone('a');
      batch('b', 119);
      // The same values, one record at a time, into a histogram of the same kind.
      const reference = createLatencyHistogram();
      for (const [lag, count] of expected) for (let i = 0; i < count; i++) reference.recordValue(lag);
      const h = comparison.lagHistogram;
      expect(h.totalCount).toBe(reference.totalCount);
      expect(expected.size).toBeGreaterThan(3);
      for (let p = 1; p <= 100; p++) expect(h.getValueAtPercentile(p), `p${p}`).toBe(reference.getValueAtPercentile(p));
      reference.destroy();
      expect(comparison.snapshot().batch.notFirst).toBe(14);
    } finally {
      vi.useRealTimers();
      comparison.destroy();
    }
  });
});
