/**
 * A UTF-8 byte-order mark at the start of an input file (as Windows programs
 * and editors write it) is not part of the first record: that record is
 * emitted, byte for byte without the mark, whichever path reads the file
 * (parallel history ranges, the live lane, .json documents), and with every
 * parser. A mark anywhere else is inside a record and still rejected.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { loadNativeAddon } from '../dist/src/parser/native.js';
import { readLines, runOnce, until, workdir } from './helpers/workdir.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const PARSERS: ('js' | 'native')[] = ['js', ...('error' in loadNativeAddon() ? [] : ['native' as const])];

const engines: Engine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.stop();
});

function orders(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `{"id":"o${from + i}","note":"Zürich 東京 ${'x'.repeat((from + i) % 50)}"}`);
}

describe('a UTF-8 byte-order mark at the start of a file', () => {
  for (const parser of PARSERS) {
    it(`--once, NDJSON read in many ranges (${parser}): every record out, the first without the mark, none rejected`, async () => {
      const dir = workdir();
      const input = join(dir, 'windows.ndjson');
      const lines = orders(2000);
      writeFileSync(input, Buffer.concat([BOM, Buffer.from(lines.join('\n') + '\n')]));
      const out = await runOnce(dir, { input, parser, rangeBytes: 4096, workers: 2 });
      expect(out.stats.rejected).toBe(0);
      expect(out.deadLetters).toEqual([]);
      expect(out.lines).toEqual(lines);
    });
  }

  it('a mark anywhere but the file start (files concatenated) is rejected alone (invalid_json, dead-lettered), the record after it read', async () => {
    const dir = workdir();
    const input = join(dir, 'mid.ndjson');
    const [a, b, c] = orders(3);
    writeFileSync(input, Buffer.concat([Buffer.from(`${a}\n`), BOM, Buffer.from(`${b}\n${c}\n`)]));
    const out = await runOnce(dir, { input });
    expect(out.lines).toEqual([a, b, c]);
    expect(out.deadLetters.map((d) => [d.offset, d.reason])).toEqual([[Buffer.byteLength(a!) + 1, 'invalid_json']]);
  });

  it('.json documents: an array and a single object after a mark are read as without it', async () => {
    const dir = workdir();
    const lines = orders(50);
    writeFileSync(join(dir, 'array.json'), Buffer.concat([BOM, Buffer.from(`[\n${lines.join(',\n')}\n]\n`)]));
    writeFileSync(join(dir, 'single.json'), Buffer.concat([BOM, Buffer.from(`{"id":"single","v":1}\n`)]));
    const out = await runOnce(dir, { input: join(dir, '*.json') });
    expect(out.stats.rejected).toBe(0);
    expect(out.lines.sort()).toEqual([...lines, '{"id":"single","v":1}'].sort());
  });

  it('a UTF-16 or UTF-32 file: one warning naming its encoding, its records rejected and counted, never emitted', async () => {
    const dir = workdir();
    const lines = orders(5);
    writeFileSync(join(dir, 'a-powershell.ndjson'), Buffer.from('\ufeff' + lines.join('\n') + '\n', 'utf16le'));
    writeFileSync(join(dir, 'b-utf32.ndjson'), Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('{"id":1}\n')]));
    writeFileSync(join(dir, 'c-utf8.ndjson'), Buffer.concat([BOM, Buffer.from(lines.join('\n') + '\n')]));
    const sink = join(dir, 'out.ndjson');
    const engine = new Engine({ input: join(dir, '*.ndjson'), sink: `file:${sink}`, once: true, workers: 1 });
    engines.push(engine);
    const warnings: [string, string][] = [];
    engine.on('warning', (message, code) => warnings.push([code, message]));
    await engine.start();
    await engine.finished();
    const notUtf8 = warnings.filter(([code]) => code === 'ORDERTAIL_INPUT_NOT_UTF8').map(([, m]) => m);
    expect(notUtf8).toHaveLength(2);
    expect(notUtf8.find((m) => m.includes('a-powershell.ndjson'))).toMatch(/UTF-16LE byte-order mark.*iconv -f UTF-16LE -t UTF-8/);
    expect(notUtf8.find((m) => m.includes('b-utf32.ndjson'))).toMatch(/UTF-32LE/);
    // The UTF-8 file's records, once each; nothing of the others.
    expect(readLines(sink)).toEqual(lines);
    expect(engine.stats().rejected).toBeGreaterThanOrEqual(2);
  });

  it('follow mode: a new file whose writer puts the mark first, even split across writes, gets every record out', async () => {
    const dir = workdir();
    const sink = join(dir, 'out.ndjson');
    const engine = new Engine({ input: join(dir, '*.ndjson'), sink: `file:${sink}`, workers: 1 });
    engines.push(engine);
    await engine.start();
    const live = join(dir, 'live.ndjson');
    writeFileSync(live, BOM.subarray(0, 2));
    await new Promise((r) => setTimeout(r, 200));
    const lines = orders(20);
    appendFileSync(live, Buffer.concat([BOM.subarray(2), Buffer.from(lines.slice(0, 10).join('\n') + '\n')]));
    await until(() => readLines(sink).length === 10, 10_000, 'the first ten records');
    appendFileSync(live, lines.slice(10).join('\n') + '\n');
    await until(() => readLines(sink).length === 20, 10_000, 'all twenty records');
    expect(readLines(sink)).toEqual(lines);
    expect(engine.stats().rejected).toBe(0);
    expect(readFileSync(sink).subarray(0, 3).equals(BOM)).toBe(false);
  });
});
