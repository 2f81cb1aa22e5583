// A writer that dies mid-record and, restarted, appends right after the bytes it
// left (no newline, no NULs) glues its next record to half of the last one; a
// writer that leaves out a newline puts two records on one line. Before, the
// whole line was rejected: the whole record in it (the first order after every
// such restart) was lost, dead-lettered at best. The whole record must come out,
// once, and only the half be rejected (counted, dead-lettered at its own offset),
// with every parser, in --once and while following.
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../dist/src/index.js';
import { parserNames } from './helpers/parsers.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const PARSERS = parserNames();

const engines: Engine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.stop();
});

const NOTES = ['', ',"note":"ордер ✓ 東京"', ',"meta":{"desk":"Zürich","tags":["a","b"]}', ',"note":"a {brace} and \\"quotes\\""'];
const record = (id: string, i: number): string => `{"id":"${id}","ts":1700000000000${NOTES[i % NOTES.length]}}`;

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Made {
  text: Buffer;
  ids: string[];
  halves: number;
}

/** Lines of whole records, halves (cut at any byte, multi-byte characters too) glued to the next record, two records on a line, garbage. */
function make(seed: number, lines: number): Made {
  const next = random(seed);
  const parts: Buffer[] = [];
  const ids: string[] = [];
  let halves = 0;
  for (let i = 0; i < lines; i++) {
    const id = `r${i}`;
    const whole = Buffer.from(record(id, i));
    const kind = next();
    if (kind < 0.55) {
      parts.push(whole, Buffer.from('\n'));
      ids.push(id);
    } else if (kind < 0.8) {
      // Half of a record the writer died in (never emitted), then the next one whole.
      const full = Buffer.from(record(`dead${i}`, i + 1));
      const half = full.subarray(0, 1 + Math.floor(next() * (full.length - 1)));
      parts.push(half, whole, Buffer.from('\n'));
      // Cut right where a value goes (after ':', ',' or '['): the record after it cannot be told
      // from an object nested in the half, and the line is rejected whole, as before.
      if (!':,['.includes(String.fromCharCode(half[half.length - 1]!))) ids.push(id);
      halves++;
    } else if (kind < 0.9) {
      parts.push(whole, Buffer.from(record(`${id}b`, i + 2)), Buffer.from('\n'));
      ids.push(id, `${id}b`);
    } else if (kind < 0.95) {
      parts.push(Buffer.from(`garbage {not a record} ${i}\n`));
      halves++;
    } else {
      // Cut after an object nested in it, and nothing glued: not read as that object.
      parts.push(Buffer.from(`{"id":"cut${i}","meta":{"desk":"Zürich"}\n`));
      halves++;
    }
  }
  return { text: Buffer.concat(parts), ids, halves };
}

async function once(dir: string, input: string, options: Partial<EngineOptions>): Promise<{ ids: string[]; rejected: number; dead: { offset: number }[] }> {
  const sink = join(dir, `out-${Math.random().toString(36).slice(2)}.ndjson`);
  const dead = join(dir, `dead-${Math.random().toString(36).slice(2)}.ndjson`);
  const engine = new Engine({ input, dedupKey: 'id', eventTime: 'ts', workers: 2, ...options, once: true, sink: `file:${sink}`, deadLetter: dead });
  engines.push(engine);
  await engine.start();
  await engine.finished();
  await engine.stop();
  return {
    ids: readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id),
    rejected: engine.stats().rejected,
    dead: readLines(dead).map((l) => JSON.parse(l) as { offset: number }),
  };
}

describe('a record glued to half of one', () => {
  it.each(PARSERS)('--once, %s parser: every whole record out once, each half or garbage line rejected alone', async (parser) => {
    const dir = workdir('ordertail-glued-');
    const made = make(7, 3000);
    const input = join(dir, 'orders.ndjson');
    writeFileSync(input, made.text);
    // Small ranges: glued lines fall on range boundaries too.
    const run = await once(dir, input, { parser, rangeBytes: 8192 });
    expect(run.ids).toHaveLength(made.ids.length);
    expect(new Set(run.ids)).toEqual(new Set(made.ids));
    expect(run.rejected).toBe(made.halves);
    expect(run.dead).toHaveLength(made.halves);
  });

  it('while following: a writer killed mid-record, restarted, appends after the half it left', async () => {
    const dir = workdir('ordertail-glued-');
    const path = join(dir, 'app.log');
    const sink = join(dir, 'out.ndjson');
    writeFileSync(path, `${record('a0', 0)}\n`);
    const engine = new Engine({ input: path, sink: `file:${sink}`, dedupKey: 'id', eventTime: 'ts', workers: 2, deadLetter: join(dir, 'dead.ndjson') });
    engines.push(engine);
    await engine.start();
    const ids = (): string[] => readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id);
    await until(() => ids().length === 1, 10_000, 'a0');
    let fd = openSync(path, 'a');
    writeSync(fd, Buffer.from(record('a1', 1)).subarray(0, 25));
    closeSync(fd);
    await new Promise((r) => setTimeout(r, 200));
    fd = openSync(path, 'a');
    for (let i = 2; i < 6; i++) writeSync(fd, `${record(`a${i}`, i)}\n`);
    closeSync(fd);
    await until(() => ids().length >= 5, 10_000, `the records after the restart (out: ${ids().join(',')})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(ids()).toEqual(['a0', 'a2', 'a3', 'a4', 'a5']);
    expect(engine.stats().rejected).toBe(1);
  });
});
