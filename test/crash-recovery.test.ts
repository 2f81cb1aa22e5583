/**
 * Exactly-once across kill -9: a writer process appends orders to a log at ~3,000
 * lines/s (with repeated ids and lines split across writes) while the CLI, with a
 * checkpoint, is SIGKILLed at random moments and restarted; a final `--once` run
 * catches up, and the sink must hold every record exactly once. Kills alternate between
 * 200-1500 ms after the process starts (start-up itself takes ~0.8 s on 2 busy cores:
 * these hit checkpoint loading, sink truncation, worker start) and 0-1000 ms after the
 * restarted engine first grows the sink (mid-stream, with uncommitted output).
 *
 * The seed (data, kill delays) is printed in every failure; set CRASH_SEED to reuse one.
 * scripts/stress.mjs runs the same harness with many more kills and files.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  crashLoop,
  describeResult,
  engineArgs,
  expectedRecords,
  formatReport,
  killAll,
  mulberry32,
  logLines,
  runCrashScenario,
  runEngine,
  spawnEngine,
  verifyOutput,
} from './helpers/crash-harness.mjs';
import { readLines, until, workdir } from './helpers/workdir.js';

afterEach(() => killAll());

const seed = Number(process.env.CRASH_SEED ?? (Date.now() % 2 ** 31));
const KILLS = 6;

describe('crash harness verdict', () => {
  // The verdict must be able to fail: feed it a sink with each kind of fault.
  it('reports missing, duplicated, leaked repeats, spliced and altered lines', () => {
    const dir = workdir('ordertail-crash-');
    const log = join(dir, 'a.log');
    const rec = (seq: number, id = `s0-${seq}`, extra = {}) => JSON.stringify({ id, seq, stream: 's0', pad: 'x', ...extra });
    const lines = [rec(0), rec(1), rec(2, 's0-0', { repeat_of: 0 }), rec(3), rec(4)];
    writeFileSync(log, lines.join('\n') + '\n');
    const keyed = expectedRecords([[log]], { keyed: true });
    expect([...keyed.expected.keys()]).toEqual(['s0:0', 's0:1', 's0:3', 's0:4']);
    expect(keyed.repeats).toBe(1);
    const unkeyed = expectedRecords([[log]], { keyed: false });
    expect(unkeyed.expected.size).toBe(5);

    const sink = join(dir, 'out.ndjson');
    writeFileSync(sink, [lines[0], lines[3], lines[1], lines[4]].join('\n') + '\n');
    expect(verifyOutput(sink, keyed.expected).ok).toBe(true);
    expect(verifyOutput(sink, unkeyed.expected)).toMatchObject({ ok: false, missing: 1 });

    // a torn tail spliced onto the next record, a duplicate, a leaked repeat, one missing, an altered line
    const torn = lines[1]!.slice(0, 20) + lines[3];
    writeFileSync(sink, [lines[0], torn, lines[3], lines[0], lines[2], lines[4]!.replace('"x"', '"y"')].join('\n') + '\n');
    const r = verifyOutput(sink, keyed.expected);
    expect(r).toMatchObject({ ok: false, missing: 1, duplicated: 1, unexpected: 1, garbage: 1, altered: 1 });
    expect(r.first.missing[0]).toMatchObject({ key: 's0:1', offset: Buffer.byteLength(lines[0]!) + 1 });
  });
});

describe('exactly-once across kill -9 (file sink, checkpoint every 100 ms)', () => {
  it(`keyed: ${KILLS} random SIGKILLs, repeated ids emitted once (dedup snapshot survives restarts)`, async () => {
    const dir = workdir('ordertail-crash-');
    const r = await runCrashScenario({ dir, keyed: true, kills: KILLS, seed });
    const why = describeResult(r);
    expect(r.report.ok, why).toBe(true);
    expect(r.final.code, why).toBe(0);
    expect(r.rerun?.code, why).toBe(0);
    expect(r.rerun?.added, `a second --once with the same checkpoint must add nothing\n${why}`).toBe(0);
    expect(r.deadLetterCount, why).toBe(0);
    expect(r.writtenByWriter, why).toBe(r.logLines);
    // The run must have exercised what it claims to: repeats, split lines, kills mid-output.
    expect(r.repeats, why).toBeGreaterThan(100);
    expect(r.splits, why).toBeGreaterThan(0);
    expect(r.report.expected, why).toBeGreaterThan(5000);
    expect(r.killsWhileWriting, `half the kills wait for the sink to grow\n${why}`).toBeGreaterThanOrEqual(KILLS / 2);
    if (r.cycles.some((c) => c.committed !== undefined)) expect(r.killsWithUncommitted, why).toBeGreaterThanOrEqual(1);
    expect(r.problems.filter((p) => p.level >= 50), why).toEqual([]);
    expect(existsSync(join(dir, 'checkpoint', 'checkpoint.msgpack')), why).toBe(true);
  }, 75_000);

  it(`unkeyed: ${KILLS} random SIGKILLs, no line re-read or lost (offsets and sink truncation exact)`, async () => {
    const dir = workdir('ordertail-crash-');
    const r = await runCrashScenario({ dir, keyed: false, kills: KILLS, seed: seed + 1 });
    const why = describeResult(r);
    expect(r.report.ok, why).toBe(true);
    expect(r.final.code, why).toBe(0);
    expect(r.rerun?.code, why).toBe(0);
    expect(r.rerun?.added, `a second --once with the same checkpoint must add nothing\n${why}`).toBe(0);
    expect(r.deadLetterCount, why).toBe(0);
    expect(r.writtenByWriter, why).toBe(r.logLines);
    expect(r.report.expected, why).toBe(r.logLines); // every line passes, repeats included
    expect(r.splits, why).toBeGreaterThan(0);
    expect(r.killsWhileWriting, `half the kills wait for the sink to grow\n${why}`).toBeGreaterThanOrEqual(KILLS / 2);
    // At least one kill must have left sink bytes past the committed length, so that the
    // restart had to truncate (when the manifest is readable here; it is only a statistic).
    if (r.cycles.some((c) => c.committed !== undefined)) expect(r.killsWithUncommitted, why).toBeGreaterThanOrEqual(1);
    expect(r.problems.filter((p) => p.level >= 50), why).toEqual([]);
  }, 75_000);
});

describe('exactly-once across kill -9 of a --once replay written direct (O_DIRECT, behind the engine)', () => {
  it('3 SIGKILLs while the output grows, then a full run: every record once, repeats far apart dropped', async () => {
    const dir = workdir('ordertail-crash-');
    const rand = mulberry32(seed + 2);
    // Four files written side by side; in each, every 50th order repeats one 20,000 lines back.
    const files: string[] = [];
    for (let f = 0; f < 4; f++) {
      const lines: string[] = [];
      for (let seq = 0; seq < 200_000; seq++) {
        const repeat = seq % 50 === 49 && seq > 20_001;
        const id = repeat ? `f${f}-${seq - 20_001}` : `f${f}-${seq}`;
        lines.push(JSON.stringify({ id, stream: `f${f}`, seq, ...(repeat ? { repeat_of: seq - 20_001 } : {}), note: `ordre ${seq} — 注文 ✓`, pad: 'x'.repeat(Math.floor(rand() * 120)) }));
      }
      const file = join(dir, `orders-${f}.log`);
      writeFileSync(file, lines.join('\n') + '\n');
      files.push(file);
    }
    const sink = join(dir, 'out.ndjson');
    const checkpoint = join(dir, 'checkpoint');
    const args = engineArgs({ inputs: [join(dir, '*.log')], sink, checkpoint, once: true, extra: ['--sink-page-cache', 'direct'] });
    // A replay is quick: each kill comes within 40 ms of the output growing.
    const cycles = await crashLoop({ kills: 3, args, sink, checkpoint, rand, anchor: 'output', outputDelayMs: 40, onCycle: undefined, afterKill: undefined });
    const final = await runEngine(args);
    const { expected, repeats } = expectedRecords(files.map((f) => [f]), { keyed: true });
    const report = verifyOutput(sink, expected);
    const why = `seed ${seed + 2}; cycles ${JSON.stringify(cycles.map((c) => ({ delayMs: c.delayMs, sizeAtKill: c.sizeAtKill, committed: c.committed })))}\n${formatReport(report)}\n${final.stderr}`;
    expect(final.code, why).toBe(0);
    expect(report.ok, why).toBe(true);
    expect(repeats).toBeGreaterThan(10_000);
    expect(cycles.every((c) => c.wrote), why).toBe(true);
  }, 90_000);
});

describe('rotation while the engine is stopped', () => {
  it('rename+create between stop and restart: the restart drains the rotated file, then reads the new one', async () => {
    const dir = workdir('ordertail-crash-');
    const log = join(dir, 'c.log');
    const sink = join(dir, 'out.ndjson');
    const line = (i: number) => JSON.stringify({ id: `c-${i}`, seq: i, pad: 'x'.repeat(100) }) + '\n';
    const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
    const base = { inputs: [join(dir, '*.log')], sink, checkpoint: join(dir, 'checkpoint'), keyed: false };
    writeFileSync(log, lines(0, 1000));
    const e = spawnEngine(engineArgs(base));
    await until(() => readLines(sink).length >= 1000, 30_000, 'the first 1000 lines');
    e.child.kill('SIGTERM'); // checkpoints at shutdown
    expect((await e.exited).code, e.stderr()).toBe(0);

    // logrotate `create` while ordertail is down: more lines, rename, the writer still
    // appends to its open (renamed) file, then a new c.log. The rotated name does not match.
    appendFileSync(log, lines(1000, 1500));
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, lines(1500, 1600));
    writeFileSync(log, lines(1600, 2000));

    const r = await runEngine(engineArgs({ ...base, once: true }));
    expect(r.code, r.stderr).toBe(0);
    const counts = new Map<number, number>();
    for (const l of readLines(sink)) {
      const seq = (JSON.parse(l) as { seq: number }).seq;
      counts.set(seq, (counts.get(seq) ?? 0) + 1);
    }
    const missing = Array.from({ length: 2000 }, (_, i) => i).filter((i) => !counts.has(i));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([seq]) => seq);
    const range = (xs: number[]) => (xs.length ? `${xs.length} (${xs[0]}..${xs.at(-1)})` : '0');
    expect({ missing: range(missing), duplicated: range(duplicated) }, r.stderr).toEqual({ missing: '0', duplicated: '0' });
  }, 60_000);
});

describe('damaged checkpoint', () => {
  const record = (i: number) => JSON.stringify({ id: `o-${i}`, timestamp: 1_700_000_000_000 + i, px: i });

  async function seeded() {
    const dir = workdir('ordertail-crash-');
    const log = join(dir, 'orders.log');
    writeFileSync(log, Array.from({ length: 200 }, (_, i) => record(i)).join('\n') + '\n');
    const checkpoint = join(dir, 'checkpoint');
    const args = (sink: string, extra: string[] = []) => engineArgs({ inputs: [log], sink, checkpoint, once: true, extra });
    const first = await runEngine(args(join(dir, 'out.ndjson')));
    expect(first.code, first.stderr).toBe(0);
    expect(readLines(join(dir, 'out.ndjson'))).toHaveLength(200);
    const manifest = join(checkpoint, 'checkpoint.msgpack');
    expect(existsSync(manifest), 'a --once run with --checkpoint leaves a checkpoint').toBe(true);
    return { dir, log, args, manifest };
  }

  for (const damage of ['garbage', 'truncated'] as const) {
    it(`${damage} checkpoint.msgpack: exit 2 naming the file and --reset-checkpoint; --reset-checkpoint starts over`, async () => {
      const { dir, log, args, manifest } = await seeded();
      if (damage === 'garbage') writeFileSync(manifest, Buffer.from('\x93not a checkpoint at all, just garbage \x00\xff\xfe'.repeat(8), 'latin1'));
      else writeFileSync(manifest, readFileSync(manifest).subarray(0, Math.floor(readFileSync(manifest).length / 2)));

      const refused = await runEngine(args(join(dir, 'out.ndjson')));
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(manifest);
      expect(refused.stderr).toContain('--reset-checkpoint');
      expect(readLines(join(dir, 'out.ndjson')), 'a refused start must not touch the sink').toHaveLength(200);

      const out2 = join(dir, 'out2.ndjson');
      const reset = await runEngine(args(out2, ['--reset-checkpoint']));
      expect(reset.code, reset.stderr).toBe(0);
      expect(logLines(reset.stderr, 50)).toEqual([]);
      expect(readLines(out2)).toHaveLength(200);

      // The reset run wrote a good checkpoint: resuming from it reads only what was appended since.
      appendFileSync(log, Array.from({ length: 10 }, (_, i) => record(200 + i)).join('\n') + '\n');
      const resumed = await runEngine(args(out2));
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(readLines(out2).sort()).toEqual(Array.from({ length: 210 }, (_, i) => record(i)).sort());
    }, 40_000);
  }
});
