import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, runOnce, until, workdir } from './helpers/workdir.js';

const engines: Engine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.stop();
});

async function follow(dir: string, input: string, extra: Record<string, unknown> = {}): Promise<{ engine: Engine; sink: string }> {
  const sink = join(dir, 'out.ndjson');
  const engine = new Engine({ input, sink: `file:${sink}`, workers: 2, ...extra });
  engines.push(engine);
  await engine.start();
  return { engine, sink };
}

describe('follow mode', () => {
  it('emits lines appended while running, and holds a partial last line until its newline', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '{"id":1,"v":"a"}\n');
    const { sink } = await follow(dir, log);
    await until(() => readLines(sink).length === 1, 10_000, 'the existing line');
    appendFileSync(log, '{"id":2,"v":"b"}\n{"id":3,');
    await until(() => readLines(sink).length === 2, 10_000, 'the appended line');
    // The partial record must not be emitted (nor rejected) while it is incomplete.
    await new Promise((r) => setTimeout(r, 300));
    expect(readLines(sink)).toEqual(['{"id":1,"v":"a"}', '{"id":2,"v":"b"}']);
    appendFileSync(log, '"v":"c"}\n');
    await until(() => readLines(sink).length === 3, 10_000, 'the completed line');
    expect(readLines(sink)[2]).toBe('{"id":3,"v":"c"}');
  });

  it('picks up a new file that starts matching the glob', async () => {
    const dir = workdir();
    writeFileSync(join(dir, 'a.ndjson'), '{"id":"a1"}\n');
    const { sink } = await follow(dir, join(dir, '*.ndjson'));
    await until(() => readLines(sink).length === 1, 10_000, 'first file');
    writeFileSync(join(dir, 'b.ndjson'), '{"id":"b1"}\n');
    await until(() => readLines(sink).length === 2, 10_000, 'the new file');
    appendFileSync(join(dir, 'b.ndjson'), '{"id":"b2"}\n{"id":"a1"}\n');
    await until(() => readLines(sink).length === 3, 10_000, 'growth of the new file');
    expect(readLines(sink)).toEqual(['{"id":"a1"}', '{"id":"b1"}', '{"id":"b2"}']);
  });

  it('--from end skips existing complete lines but keeps the line in flight', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '{"id":1}\n{"id":2}\n{"id":');
    const { sink, engine } = await follow(dir, log, { from: 'end' });
    appendFileSync(log, '3}\n{"id":4}\n');
    await until(() => readLines(sink).length === 2, 10_000, 'lines after start-up');
    expect(readLines(sink)).toEqual(['{"id":3}', '{"id":4}']);
    expect(engine.stats().recordsRead).toBe(2);
  });
});

describe('--once', () => {
  it('emits a valid final line that has no newline at EOF', async () => {
    const dir = workdir();
    writeFileSync(join(dir, 'x.ndjson'), '{"id":1}\n{"id":2}');
    const r = await runOnce(dir, { input: join(dir, 'x.ndjson') });
    expect(r.lines).toEqual(['{"id":1}', '{"id":2}']);
  });

  it('rejects (not drops) an invalid final line without newline', async () => {
    const dir = workdir();
    writeFileSync(join(dir, 'x.ndjson'), '{"id":1}\n{"id":2');
    const r = await runOnce(dir, { input: join(dir, 'x.ndjson') });
    expect(r.lines).toEqual(['{"id":1}']);
    expect(r.deadLetters).toEqual([{ file: join(dir, 'x.ndjson'), offset: 9, reason: 'invalid_json', sample: '{"id":2' }]);
  });
});
