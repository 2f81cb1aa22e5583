/*
 * The live lane: growth of a followed file parsed on the main thread where it
 * is noticed. It must keep every guarantee of the pool path: the same output
 * bytes, dedup against history, rejects, partial lines held back, and large
 * growth still handed to the pool in order; and history must yield the CPU to it.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { createLogger } from '../dist/src/metrics/logger.js';
import { readLines, runOnce, until, workdir } from './helpers/workdir.js';

const engines: Engine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.stop();
});

/** Follow `input` with debug logs captured, to see which lane parsed each range. */
async function follow(dir: string, input: string): Promise<{ engine: Engine; sink: string; dead: string; lanes: () => string[] }> {
  const sink = join(dir, 'out.ndjson');
  const dead = join(dir, 'dead.ndjson');
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
  const engine = new Engine({ input, sink: `file:${sink}`, deadLetter: dead, workers: 2, logger });
  engines.push(engine);
  await engine.start();
  const lanes = (): string[] =>
    lines.map((l) => JSON.parse(l) as { msg: string; lane?: string }).filter((e) => e.msg === 'range planned' && e.lane !== undefined).map((e) => e.lane!);
  return { engine, sink, dead, lanes };
}

const order = (i: number, extra = ''): string => `{"id":"o${i}","timestamp":${1_764_720_000_000 + i},"symbol":"BTC/USDT","note":"Zürich — 東京 ${i}"${extra}}`;

describe('live lane', () => {
  it('growth parsed where it is noticed: byte-identical to a --once run of the final file, copies of history dropped, bad lines dead-lettered, partial lines held', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, Array.from({ length: 200 }, (_, i) => order(i)).join('\n') + '\n');
    const { engine, sink, dead, lanes } = await follow(dir, log);
    await until(() => readLines(sink).length === 200, 10_000, 'history');
    // Appends as a writer makes them: copies of history (same key, same event time),
    // a corrupt line, non-ASCII text, and records split across appends.
    for (let batch = 0; batch < 20; batch++) {
      const lines = [order(1000 + batch), order(batch * 7), '{"id":"broken",', order(2000 + batch)];
      const text = lines.join('\n') + '\n';
      const cut = Math.floor(text.length / 2) + batch;
      appendFileSync(log, text.slice(0, cut));
      await new Promise((r) => setTimeout(r, 5));
      appendFileSync(log, text.slice(cut));
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => readLines(sink).length === 240 && engine.stats().rejected === 20, 10_000, 'the live records');
    const followed = readFileSync(sink);
    const followedDead = readLines(dead).map((l) => JSON.parse(l) as { offset: number; reason: string });
    await engine.stop();
    const once = await runOnce(dir, { input: log });
    expect(followed.equals(Buffer.from(once.lines.join('\n') + '\n'))).toBe(true);
    expect(followedDead.map((d) => [d.offset, d.reason])).toEqual(once.deadLetters.map((d) => [d.offset, d.reason]));
    expect(engine.stats().duplicates).toBe(20);
    // The growth went through the lane (a failure here means it silently fell back to the pool).
    expect(lanes().filter((l) => l === 'live').length).toBeGreaterThanOrEqual(20);
  });

  it('growth larger than the lane takes goes to the pool, and output keeps file order across both', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '');
    const { sink, lanes } = await follow(dir, log);
    appendFileSync(log, order(0) + '\n');
    await until(() => readLines(sink).length === 1, 10_000, 'a small append');
    // ~14 MB in one write: a backlog, which the pool reads in parallel.
    const big = Array.from({ length: 60_000 }, (_, i) => order(1 + i, `,"pad":"${'x'.repeat(120)}"`)).join('\n') + '\n';
    expect(big.length).toBeGreaterThan(8 << 20);
    appendFileSync(log, big + order(70_000) + '\n');
    appendFileSync(log, order(70_001) + '\n');
    await until(() => readLines(sink).length === 60_003, 20_000, 'all of it');
    const ids = readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual(['o0', ...Array.from({ length: 60_000 }, (_, i) => `o${1 + i}`), 'o70000', 'o70001']);
    expect(lanes()).toContain('pool');
    expect(lanes()).toContain('live');
  });

  it('history yields the CPU: parse threads run at a raised nice value when following, unchanged with once', async () => {
    // A thread may end between the listing and the read (an earlier engine's, exiting): skipped.
    const niceValues = (): number[] =>
      readdirSync('/proc/self/task').flatMap((tid) => {
        let stat: string;
        try {
          stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        } catch {
          return [];
        }
        return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
      });
    // Relative to this process's own nice value (the suite may run under `nice`).
    const base = os.getPriority();
    const before = niceValues().filter((n) => n > base).length;
    const dir = workdir();
    writeFileSync(join(dir, 'a.ndjson'), order(1) + '\n');
    const once = new Engine({ input: join(dir, 'a.ndjson'), once: true, sink: 'none', workers: 2 });
    engines.push(once);
    await once.start();
    await until(() => once.readiness().ok, 10_000, 'once workers up');
    expect(niceValues().filter((n) => n > base).length).toBe(before);
    await once.finished();
    await once.stop();
    const { engine } = await follow(dir, join(dir, 'a.ndjson'));
    await until(() => engine.readiness().ok, 10_000, 'follow workers up');
    await until(() => niceValues().filter((n) => n >= Math.min(19, base + 10)).length >= before + 2, 10_000, 'two parse threads at nice ≥ 10 above ours');
  });
});
