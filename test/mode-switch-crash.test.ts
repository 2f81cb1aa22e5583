/**
 * Mode switches and kill -9 (README, "Modes", "Switching mode at run time"): the CLI,
 * with a checkpoint and a --config file whose mode flips between realtime and hybrid
 * after random pauses of 150–450 ms, is SIGKILLed at random moments while a writer appends. Closed
 * history files older than ignoreOlder reach the sink only through hybrid's batch path,
 * which is not checkpointed: the lock the two paths take turns under must keep every
 * checkpoint's keys covered by the sink, across switches, or a kill loses records.
 * A last hybrid run catches up; every record (the writer's and the history's) must be
 * in the file sink exactly once.
 *
 * The seed (data, kill delays) is printed in every failure; set CRASH_SEED to reuse one.
 */
import { mkdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crashLoop, engineArgs, expectedRecords, killAll, logLines, mulberry32, spawnEngine, startWriter, verifyOutput } from './helpers/crash-harness.mjs';
import { readLines, workdir } from './helpers/workdir.js';

afterEach(() => killAll());

const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const KILLS = 6;
const HISTORY_FILES = 2;
// Enough that the batch paths of several killed runs, stopped and restarted by the flips, each emit part of it.
const HISTORY_LINES = 60_000;

/** History in the writer's record format (stream hN, seq i), closed an hour ago. */
function writeHistory(dir: string): Map<string, { line: string; file: string; offset: number }> {
  const expected = new Map<string, { line: string; file: string; offset: number }>();
  mkdirSync(join(dir, 'hist'));
  for (let h = 0; h < HISTORY_FILES; h++) {
    const file = join(dir, 'hist', `h${h}.ndjson`);
    const lines: string[] = [];
    let offset = 0;
    for (let i = 0; i < HISTORY_LINES; i++) {
      const line = `{"id":"h${h}-${i}","seq":${i},"stream":"h${h}","timestamp":${Date.now()},"pad":"${'y'.repeat(60)}"}`;
      expected.set(`h${h}:${i}`, { line, file, offset });
      lines.push(line);
      offset += line.length + 1;
    }
    writeFileSync(file, lines.join('\n') + '\n');
    const at = (Date.now() - 3_600_000) / 1000;
    utimesSync(file, at, at);
  }
  return expected;
}

describe('mode switches across kill -9 (file sink, checkpoint every 100 ms)', () => {
  // The seed in the title: a failure inside the crash loop (an engine that stops writing) names it too.
  it(`${KILLS} random SIGKILLs while the config flips realtime ↔ hybrid: every record once (seed ${seed})`, async () => {
    const dir = workdir('ordertail-mode-crash-');
    const history = writeHistory(dir);
    const live = join(dir, 'orders.log');
    const sink = join(dir, 'out.ndjson');
    const checkpoint = join(dir, 'checkpoint');
    const configPath = join(dir, 'ordertail.yaml');
    // The live path ignores the history (older than ignoreOlder): only a batch path emits it.
    const config = (mode: string): string =>
      JSON.stringify({ mode, batchEvery: '150ms', batchDelay: '5s', ignoreOlder: '30m', dedupWindow: '1h' }) + '\n';
    const save = (mode: string): void => {
      writeFileSync(`${configPath}.tmp`, config(mode));
      renameSync(`${configPath}.tmp`, configPath);
    };
    save('hybrid');
    const args = [...engineArgs({ inputs: [live, join(dir, 'hist', '*.ndjson')], sink, checkpoint }), '--config', configPath];
    const rand = mulberry32(seed);
    const why = (more = ''): string => `seed ${seed} (CRASH_SEED=${seed} to repeat)${more ? `\n${more}` : ''}`;

    const writer = await startWriter({ streams: [{ name: 's0', path: live }], rate: 3000, seed });
    // Each flip after its own random pause (the kills' generator left alone): a fixed period near the
    // watch's settling time (250 ms) would have the engine read the file at the same phase of every
    // cycle, the same mode each time, and a run started in realtime would never read the history.
    const flipRand = mulberry32(seed ^ 0x5bd1e995);
    let flips = 0;
    let flipper: NodeJS.Timeout | undefined;
    const flip = (): void => {
      save(++flips % 2 === 0 ? 'hybrid' : 'realtime');
      flipper = setTimeout(flip, 150 + Math.floor(flipRand() * 300));
    };
    flipper = setTimeout(flip, 150 + Math.floor(flipRand() * 300));
    let writerSummary: { streams: { files: string[]; lines: number }[] };
    let cycles: { problems: { level: number }[] }[];
    try {
      cycles = await crashLoop({ kills: KILLS, args, sink, checkpoint, rand, onCycle: undefined, afterKill: undefined });
    } finally {
      clearTimeout(flipper);
      writerSummary = await writer.stop();
    }
    expect(flips, why()).toBeGreaterThan(KILLS);
    // How much of the history the killed runs' batch paths had emitted (the rest comes in the last run).
    const historyBeforeLast = readLines(sink).filter((l) => l.startsWith('{"id":"h')).length;
    process.stderr.write(`mode-switch crash: ${flips} config flips, ${historyBeforeLast} history records emitted before the last run\n`);

    const { expected } = expectedRecords(
      writerSummary.streams.map((s) => s.files),
      { keyed: true },
    );
    for (const [key, want] of history) expected.set(key, want);

    // Catch up in hybrid mode (a --once run cannot be hybrid, and realtime would leave the history unread).
    save('hybrid');
    const last = spawnEngine(args);
    try {
      // Counted every 250 ms: the sink is tens of MB by now.
      const deadline = Date.now() + 60_000;
      while (readLines(sink).length < expected.size) {
        if (Date.now() > deadline) throw new Error(`the sink holds ${readLines(sink).length} of ${expected.size} records after 60 s; ${why(last.stderr().slice(-3000))}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      // A few more batches: a record twice would show now.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      last.child.kill('SIGTERM');
    }
    const exit = await last.exited;
    expect(exit.code, why(last.stderr().slice(-3000))).toBe(0);

    const report = verifyOutput(sink, expected);
    expect(report.ok, why(JSON.stringify(report, null, 1))).toBe(true);
    const problems = [...cycles.flatMap((c) => c.problems), ...logLines(last.stderr(), 40)].filter((p) => p.level >= 50);
    expect(problems, why()).toEqual([]);
  }, 120_000);
});
