import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnce, workdir } from './helpers/workdir.js';

describe('tricky records through the whole engine', () => {
  it('keys, strings, unicode, whitespace and CRLF come out as their original bytes', async () => {
    const dir = workdir();
    const big = `{"id":"big","blob":"${'é'.repeat(100_000)}"}`; // 200 KB of UTF-8
    const lines = [
      '{"id":1,"note":"plain"}',
      '{"meta":{"id":1},"note":"nested id is not the key"}',
      '{"note":"\\"id\\":1 inside a string","x":1}',
      '{"id":"q","s":"braces { } [ ] and \\"escaped quotes\\" and \\\\ backslash"}',
      '{"id":"sur","s":"\\ud83d\\ude00 pair and 😀 raw and 日本語"}',
      '   {"id":"spaces","v":1}   ',
      '{"id":"crlf","v":2}\r',
      big,
      '{"id":1,"note":"duplicate of the first"}',
    ];
    const path = join(dir, 'tricky.ndjson');
    writeFileSync(path, lines.join('\n') + '\n');
    const r = await runOnce(dir, { input: path });
    expect(r.lines).toEqual([
      '{"id":1,"note":"plain"}',
      '{"meta":{"id":1},"note":"nested id is not the key"}',
      '{"note":"\\"id\\":1 inside a string","x":1}',
      '{"id":"q","s":"braces { } [ ] and \\"escaped quotes\\" and \\\\ backslash"}',
      '{"id":"sur","s":"\\ud83d\\ude00 pair and 😀 raw and 日本語"}',
      '{"id":"spaces","v":1}',
      '{"id":"crlf","v":2}',
      big,
    ]);
    expect(r.stats.withoutKey).toBe(2);
    expect(r.stats.duplicates).toBe(1);
    expect(r.deadLetters).toEqual([]);
  });

  it('each rejection class is dead-lettered with file, offset, reason and a sample', async () => {
    const dir = workdir();
    const path = join(dir, 'bad.ndjson');
    const parts: Buffer[] = [
      Buffer.from('{"id":"ok1"}\n'),
      Buffer.from('{"id": nope}\n'),
      Buffer.concat([Buffer.from('{"id":"u","s":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]),
      Buffer.from('{"id":"c","s":"tab\there"}\n'),
      Buffer.from('["not","an","object"]\n'),
      Buffer.from('{"id":"t"} trailing\n'),
      Buffer.from(`{"id":"big","s":"${'x'.repeat(5000)}"}\n`),
      Buffer.from('['.repeat(1100) + ']'.repeat(1100) + '\n'),
      Buffer.from('{"id":"ok2"}\n'),
    ];
    writeFileSync(path, Buffer.concat(parts));
    const r = await runOnce(dir, { input: path, maxRecordBytes: 4096 });
    expect(r.lines).toEqual(['{"id":"ok1"}', '{"id":"ok2"}']);
    const offsets: number[] = [];
    parts.reduce((at, p) => (offsets.push(at), at + p.length), 0);
    expect(r.deadLetters.map((d) => [d.reason, d.offset])).toEqual([
      ['invalid_json', offsets[1]],
      ['invalid_utf8', offsets[2]],
      ['control_char', offsets[3]],
      ['not_object', offsets[4]],
      ['trailing_garbage', offsets[5]],
      ['too_large', offsets[6]],
      ['too_deep', offsets[7]],
    ]);
    for (const d of r.deadLetters) {
      expect(d.file).toBe(path);
      expect(Buffer.byteLength(d.sample)).toBeLessThanOrEqual(256 * 3);
      expect(d.sample.length).toBeGreaterThan(0);
    }
    expect(r.deadLetters[0]!.sample).toBe('{"id": nope}');
    expect(r.stats.rejected).toBe(7);
    expect(r.stats.rejectedByReason).toMatchObject({ invalid_json: 1, invalid_utf8: 1, control_char: 1, not_object: 1, trailing_garbage: 1, too_large: 1, too_deep: 1 });
  });

  it('a too-large record straddling range boundaries is rejected once and reading resumes after it', async () => {
    const dir = workdir();
    const path = join(dir, 'huge.ndjson');
    const before = Array.from({ length: 2000 }, (_, i) => `{"id":"a${i}"}`);
    const after = Array.from({ length: 2000 }, (_, i) => `{"id":"b${i}"}`);
    const huge = `{"id":"huge","s":"${'z'.repeat(300_000)}"}`;
    writeFileSync(path, [...before, huge, ...after].join('\n') + '\n');
    const r = await runOnce(dir, { input: path, maxRecordBytes: 100_000, rangeBytes: 8192 });
    expect(r.lines).toEqual([...before, ...after]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['too_large']);
    expect(r.deadLetters[0]!.offset).toBe(before.join('\n').length + 1);
  });

  it('a .json file holding one top-level array yields each element; other documents are one record', async () => {
    const dir = workdir();
    const elements = Array.from({ length: 5000 }, (_, i) => `{"id":${i},"v":"e${i}"}`);
    writeFileSync(join(dir, 'history.json'), `[\n  ${elements.join(',\n  ')},\n  {"id":1,"v":"dup"},\n  42\n]\n`);
    writeFileSync(join(dir, 'single.json'), ' {"id":"solo","nested":{"a":[1,2]}} \n');
    // An element far larger than the read buffer is rejected and stepped over.
    const huge = `{"id":"huge","s":"${'[{,\\"'.repeat(10_000)}"}`;
    writeFileSync(join(dir, 'with-huge.json'), `[{"id":"h1"}, ${huge} , {"id":"h2"}]`);
    const r = await runOnce(dir, { input: join(dir, '*.json'), rangeBytes: 4096, maxRecordBytes: 4096 });
    expect([...r.lines].sort()).toEqual([...elements, '{"id":"solo","nested":{"a":[1,2]}}', '{"id":"h1"}', '{"id":"h2"}'].sort());
    expect(r.stats.duplicates).toBe(1);
    expect(r.deadLetters.map((d) => d.reason).sort()).toEqual(['not_object', 'too_large']);
    const tooLarge = r.deadLetters.find((d) => d.reason === 'too_large')!;
    expect(tooLarge.offset).toBe(14);
    expect(tooLarge.sample.startsWith('{"id":"huge"')).toBe(true);
  });
});

describe('dedup semantics through the engine', () => {
  it('window on event time: a key re-seen after the window is emitted again', async () => {
    const dir = workdir();
    const t = Date.UTC(2026, 0, 1);
    const lines = [
      `{"id":"a","timestamp":${t}}`,
      `{"id":"a","timestamp":${t + 30_000}}`, // within 60 s: duplicate
      `{"id":"a","timestamp":"${new Date(t + 61_000).toISOString()}"}`, // ISO, outside: emitted
      `{"id":"a","timestamp":${t + 90_000}}`, // within 60 s of the re-emitted one: duplicate
      `{"id":"b"}`, // no event time: arrival time
      `{"id":"b"}`,
      `{"other":"no key"}`,
      `{"id":"c","timestamp":"not a time"}`,
    ];
    writeFileSync(join(dir, 'w.ndjson'), lines.join('\n') + '\n');
    const r = await runOnce(dir, { input: join(dir, 'w.ndjson'), dedupWindow: '60s' });
    expect(r.lines).toEqual([lines[0], lines[2], lines[4], lines[6], lines[7]]);
    expect(r.stats.duplicates).toBe(3);
    expect(r.stats.withoutKey).toBe(1);
    expect(r.stats.eventTimeInvalid).toBe(1);
  });

  it('composite keys: --dedup-key id,venue', async () => {
    const dir = workdir();
    const lines = ['{"id":1,"venue":"x"}', '{"venue":"x","id":1,"extra":true}', '{"id":1,"venue":"y"}', '{"id":1}'];
    writeFileSync(join(dir, 'k.ndjson'), lines.join('\n') + '\n');
    const r = await runOnce(dir, { input: join(dir, 'k.ndjson'), dedupKey: 'id,venue' });
    expect(r.lines).toEqual([lines[0], lines[2], lines[3]]);
    expect(r.stats.withoutKey).toBe(1);
  });

  it('a table too small for the keys emits every unique record and counts what it forgot', async () => {
    const dir = workdir();
    const lines = Array.from({ length: 2000 }, (_, i) => `{"id":${i},"timestamp":1700000000000}`);
    writeFileSync(join(dir, 'o.ndjson'), [...lines, ...lines].join('\n') + '\n');
    const r = await runOnce(dir, { input: join(dir, 'o.ndjson'), dedupCapacity: 64 });
    // Every unique record is emitted; repeats of forgotten keys slip through, counted; none is lost.
    expect(new Set(r.lines).size).toBe(2000);
    expect(r.stats.dedupForgotten).toBeGreaterThan(0);
    expect(r.stats.dedupForgottenInWindow).toBe(r.stats.dedupForgotten);
    expect(r.lines.length - 2000).toBeLessThanOrEqual(r.stats.dedupForgotten);
    expect(r.stats.recordsEmitted + r.stats.duplicates).toBe(4000);
  });
});
