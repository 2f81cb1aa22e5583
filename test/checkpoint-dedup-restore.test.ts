import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, workdir } from './helpers/workdir.js';

/**
 * The dedup table across restarts, through every way a checkpoint stores it:
 * the empty table + journal (first run), a full snapshot (once the journal
 * passed its 512 Ki-entry limit), and a full snapshot + journal replayed over it.
 */
const T0 = 1_700_000_000_000;
const line = (id: string, i: number, tag: string): string => `{"id":"${id}","timestamp":${T0 + (i % 50_000)},"tag":"${tag}"}\n`;

function block(from: number, to: number, tag: string, idOf: (i: number) => string = (i) => `k${i}`): string {
  const parts: string[] = [];
  for (let i = from; i < to; i++) parts.push(line(idOf(i), i, tag));
  return parts.join('');
}

/**
 * One --once run; checks it read `records` and found exactly `repeats`
 * duplicates: the table (sized from the inputs, or kept from the checkpoint)
 * holds every key, so nothing is forgotten.
 */
async function expectRun(dir: string, input: string, sink: string, records: number, repeats: number): Promise<void> {
  const engine = new Engine({ input, once: true, sink: `file:${sink}`, checkpoint: join(dir, 'ck'), workers: 2, dedupWindow: '10m' });
  const errors: Error[] = [];
  engine.on('error', (e) => errors.push(e));
  await engine.start();
  await engine.finished();
  await engine.stop();
  expect(errors).toEqual([]);
  const s = engine.stats();
  expect(s.recordsEmitted + s.duplicates).toBe(records);
  expect(s.duplicates).toBe(repeats);
  expect(s.dedupForgotten).toBe(0);
}

describe('dedup state across restarts', () => {
  it('journal only, then a full snapshot, then snapshot + journal: repeats of earlier keys stay duplicates', async () => {
    const dir = workdir();
    const input = join(dir, 'orders.ndjson');
    const sink = join(dir, 'out.ndjson');

    // Run 1: 100 k keys → journal only (under the limit), over the empty table.
    writeFileSync(input, block(0, 100_000, 'a'));
    await expectRun(dir, input, sink, 100_000, 0);
    const files1 = readdirSync(join(dir, 'ck'));
    expect(files1.some((f) => f.startsWith('journal-'))).toBe(true);
    expect(files1.some((f) => f.startsWith('dedup-'))).toBe(false);

    // Run 2: repeats of run 1 + 500 k new keys → journal passes the limit → full snapshot.
    appendFileSync(input, block(0, 20_000, 'b') + block(100_000, 600_000, 'b'));
    await expectRun(dir, input, sink, 520_000, 20_000);
    const files2 = readdirSync(join(dir, 'ck'));
    expect(files2.some((f) => f.startsWith('dedup-'))).toBe(true);
    expect(files2.some((f) => f.startsWith('journal-'))).toBe(false);

    // Run 3: repeats of runs 1 and 2 + 10 k new keys → snapshot + journal.
    appendFileSync(input, block(50_000, 60_000, 'c') + block(590_000, 600_000, 'c') + block(600_000, 610_000, 'c'));
    await expectRun(dir, input, sink, 30_000, 20_000);
    const files3 = readdirSync(join(dir, 'ck'));
    expect(files3.some((f) => f.startsWith('dedup-'))).toBe(true);
    expect(files3.some((f) => f.startsWith('journal-'))).toBe(true);

    // Run 4: repeats from every earlier run (replayed snapshot + journal) + 1 new key.
    appendFileSync(input, block(0, 5, 'd') + block(300_000, 300_005, 'd') + block(605_000, 605_005, 'd') + block(610_000, 610_001, 'd'));
    await expectRun(dir, input, sink, 16, 15);

    const out = readLines(sink);
    const unique = new Set(out.map((l) => (JSON.parse(l) as { id: string }).id)).size;
    expect(unique).toBe(610_001);
    expect(out.length).toBe(unique);
  });
});
