/**
 * Records the dedup stage takes as they are, where the configuration may not
 * say what the user meant, are said once per run each, with the record where
 * they were first seen: a record without the dedup key (passed through), an
 * event time that is not a time (its arrival time stands in), and numbers that
 * look like epoch seconds, microseconds or nanoseconds where milliseconds are
 * read. The output is the same bytes either way. And a file the input glob
 * should not match (a binary, a table): every line is rejected and
 * dead-lettered, and one warning per file says so.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, type WarningCode } from '../dist/src/index.js';
import { until, workdir } from './helpers/workdir.js';

const BIN = resolve(import.meta.dirname, '../bin/ordertail.js');
const NOW_MS = Date.UTC(2026, 11, 5, 10, 0, 0);

/** Lines with non-ASCII text, so a character offset would not be the byte offset. */
function lines(count: number, timestamp: (i: number) => unknown): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ id: `o-${i}`, note: `Zürich ордер ${i}`, timestamp: timestamp(i) }) + '\n');
}

const offsetOf = (all: string[], index: number): number => Buffer.byteLength(all.slice(0, index).join(''));

async function runOnce(
  files: Record<string, string[]>,
  parser: 'js' | 'native',
  dedupKey = 'id',
  eventTime = 'timestamp',
  encodings: Record<string, BufferEncoding> = {},
): Promise<{ warnings: [string, WarningCode][]; stats: ReturnType<Engine['stats']>; out: string }> {
  const dir = workdir();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content.join(''), encodings[name] ?? 'utf8');
  const out = join(dir, 'sink.out');
  const engine = new Engine({ input: join(dir, '*.ndjson'), once: true, workers: 2, rangeBytes: 64 * 1024, parser, dedupKey, eventTime, sink: `file:${out}` });
  const warnings: [string, WarningCode][] = [];
  engine.on('warning', (message, code) => warnings.push([message, code]));
  await engine.start();
  await engine.finished();
  const stats = engine.stats();
  await engine.stop();
  return { warnings, stats, out: readFileSync(out, 'utf8') };
}

describe.each(['js', 'native'] as const)('record doubts (%s parser)', (parser) => {
  it('the first record without the dedup key is named with the fields it has, and the one meant', async () => {
    const orders = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ order_id: `o-${i % 2000}`, venue: 'börse', timestamp: NOW_MS }) + '\n');
    const { warnings, stats, out } = await runOnce({ 'a.ndjson': orders }, parser, 'venue,orderId');
    expect(warnings).toEqual([[expect.stringContaining(`a.ndjson offset 0 has no 'orderId' (dedup key venue, orderId); its fields: order_id, venue, timestamp (did you mean 'order_id' for 'orderId'?). Records without`), 'ORDERTAIL_DEDUP_KEY_MISSING']]);
    expect(stats.withoutKey).toBe(3000);
    expect(out.split('\n').filter(Boolean)).toHaveLength(3000);
    const keyed = await runOnce({ 'a.ndjson': [...orders.slice(0, 5), '{"note":"heartbeat"}\n', ...orders.slice(5)] }, parser, 'order_id');
    expect(keyed.warnings).toEqual([[expect.stringContaining(`a.ndjson offset ${offsetOf(orders, 5)} has no 'order_id' (dedup key order_id); its fields: note.`), 'ORDERTAIL_DEDUP_KEY_MISSING']]);
    expect(keyed.stats.withoutKey).toBe(1);
    expect(keyed.stats.duplicates).toBe(1000);
  });

  it('the first event time that is not a time is named with its file, byte offset and value; all are counted', async () => {
    const good = lines(3000, (i) => NOW_MS + i);
    const bad = lines(3000, (i) => (i === 2200 ? 'yesterday' : i === 2900 ? null : new Date(NOW_MS + i).toISOString()));
    const { warnings, stats, out } = await runOnce({ 'a-good.ndjson': good, 'b-bad.ndjson': bad }, parser);
    expect(warnings).toHaveLength(1);
    const [message, code] = warnings[0]!;
    expect(code).toBe('ORDERTAIL_EVENT_TIME_INVALID');
    expect(message).toContain(`b-bad.ndjson offset ${offsetOf(bad, 2200)} `);
    expect(message).toContain('("yesterday")');
    expect(stats.eventTimeInvalid).toBe(2);
    // b repeats a's orders at the same times, but for the two whose arrival time (today) stands in for theirs.
    expect(out.split('\n').filter(Boolean)).toHaveLength(3002);
  });

  it.each([
    ['seconds', (i: number) => Math.floor(NOW_MS / 1000) + i, /epoch seconds.*spans 16\.7 h of these times/],
    ['microseconds', (i: number) => NOW_MS * 1000 + i, /epoch microseconds.*spans 60 ms of these times/],
    ['nanoseconds', (i: number) => NOW_MS * 1e6 + i * 1e6, /epoch nanoseconds.*spans 0\.06 ms of these times/],
  ])('numbers in epoch %s are said once, naming the first file and offset', async (_unit, timestamp, said) => {
    const ms = lines(2000, (i) => NOW_MS + i);
    // The first record has no time: the check looks past it.
    const other = lines(2000, (i) => (i === 0 ? undefined : timestamp(i)));
    const { warnings, stats } = await runOnce({ 'a-ms.ndjson': ms, 'b-other.ndjson': other }, parser);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![1]).toBe('ORDERTAIL_EVENT_TIME_UNITS');
    expect(warnings[0]![0]).toMatch(said);
    expect(warnings[0]![0]).toContain(`b-other.ndjson offset ${offsetOf(other, 1)}`);
    expect(stats.eventTimeInvalid).toBe(0);
  });

  it('records without the event-time field but with a field holding a time: that field is named; set as --event-time, nothing is said', async () => {
    const orders = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: `o-${i}`, note: `Zürich ${i}`, ts: NOW_MS + i, created_at: new Date(NOW_MS).toISOString() }) + '\n');
    const { warnings } = await runOnce({ 'a.ndjson': orders }, parser);
    expect(warnings).toEqual([[expect.stringContaining(`a.ndjson offset 0 has no event time 'timestamp'; fields that hold a time: ts, created_at (--event-time names the one to use)`), 'ORDERTAIL_EVENT_TIME_MISSING']]);
    const named = await runOnce({ 'a.ndjson': orders }, parser, 'id', 'ts');
    expect(named.warnings).toEqual([]);
  });

  it('epoch ms, ISO-8601, records with no time at all and small synthetic numbers warn of nothing', async () => {
    const { warnings, stats } = await runOnce(
      {
        'a.ndjson': lines(1500, (i) => NOW_MS + i),
        'b.ndjson': lines(1500, (i) => new Date(NOW_MS + i).toISOString()),
        'c.ndjson': lines(1500, () => undefined),
        'd.ndjson': lines(1500, (i) => i * 10),
      },
      parser,
    );
    expect(warnings).toEqual([]);
    expect(stats.eventTimeInvalid).toBe(0);
  });
});

/** Bytes of a binary file (a deterministic generator), with a newline now and then: lines that are not JSON. */
function binaryLines(bytes: number): string[] {
  const buf = Buffer.alloc(bytes);
  let a = 12345;
  for (let i = 0; i < bytes; i++) {
    a = (Math.imul(a, 1103515245) + 12345) | 0;
    buf[i] = (a >>> 16) & 0xff;
  }
  return [buf.toString('latin1')];
}

describe.each(['js', 'native'] as const)('files that hold no records (%s parser)', (parser) => {
  it('a binary, a CSV or a pretty-printed JSON file the glob matches is said once each, with the reasons and how it begins; files with records are not', async () => {
    const csv = ['id,price,note\n', ...Array.from({ length: 500 }, (_, i) => `o-${i},${100 + i},Zürich\n`)];
    const lateGarbage = [...lines(3000, (i) => NOW_MS + 5000 + i), ...Array.from({ length: 200 }, (_, i) => `oops ${i}\n`)];
    const fewBad = [...Array.from({ length: 99 }, (_, i) => `{"half":${i}\n`), ...lines(100, (i) => NOW_MS + i)];
    const pretty = Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: `p-${i}`, note: 'Zürich', timestamp: NOW_MS }, null, 2) + '\n');
    const files = { 'a.ndjson': lines(3000, (i) => NOW_MS + i), 'b-binary.ndjson': binaryLines(200_000), 'c-table.ndjson': csv, 'd-late.ndjson': lateGarbage, 'e-few.ndjson': fewBad, 'f-pretty.ndjson': pretty };
    // The binary file is written as latin1 bytes, not as UTF-8 of those characters.
    const { warnings, stats, out } = await runOnce(files, parser, 'id', 'timestamp', { 'b-binary.ndjson': 'latin1' });
    const said = new Map(warnings.filter(([, code]) => code === 'ORDERTAIL_INPUT_NOT_RECORDS').map(([m]) => [m.split(':')[0]!.replace(/^.*\//, ''), m]));
    expect([...said.keys()].sort()).toEqual(['b-binary.ndjson', 'c-table.ndjson', 'f-pretty.ndjson']);
    expect(warnings.filter(([, code]) => code === 'ORDERTAIL_INPUT_NOT_RECORDS')).toHaveLength(3);
    expect(said.get('c-table.ndjson')).toMatch(/c-table\.ndjson: none of its first 501 lines is a JSON record \(invalid_json 501; the first begins "id,price,note"\): not NDJSON\?/);
    expect(said.get('b-binary.ndjson')).toMatch(/b-binary\.ndjson: none of its first \d+ lines is a JSON record \(invalid_json \d+.*\): not NDJSON\?/);
    expect(said.get('f-pretty.ndjson')).toMatch(/f-pretty\.ndjson: none of its first 200 lines is a JSON record \(.*; the first begins "\{"\): It looks like JSON written over several lines/);
    // Every record of the other files taken (the same ids in three of them: one copy out), every other line rejected, as before.
    expect(out.split('\n').filter(Boolean)).toHaveLength(3000);
    expect(stats.duplicates).toBe(3100);
    expect(stats.rejected).toBe(stats.recordsRead - 6100);
  });
});

describe('event-time doubts while following, and in the --once summary', () => {
  it('growth of a followed file in epoch seconds is said (the live lane)', async () => {
    const dir = workdir();
    const file = join(dir, 'live.ndjson');
    writeFileSync(file, lines(10, (i) => NOW_MS + i).join(''));
    const engine = new Engine({ input: file, workers: 1, sink: 'none' });
    const warnings: [string, WarningCode][] = [];
    engine.on('warning', (message, code) => warnings.push([message, code]));
    await engine.start();
    await until(() => engine.stats().recordsEmitted === 10, 10_000, 'history');
    expect(warnings).toEqual([]);
    appendFileSync(file, JSON.stringify({ id: 'late', timestamp: Math.floor(NOW_MS / 1000) }) + '\n');
    await until(() => warnings.length > 0, 10_000, 'the warning');
    await engine.stop();
    expect(warnings).toEqual([[expect.stringMatching(/epoch seconds.*live\.ndjson offset \d+/), 'ORDERTAIL_EVENT_TIME_UNITS']]);
    expect(warnings[0]![0]).toContain(`offset ${Buffer.byteLength(readFileSync(file, 'utf8').split('\n').slice(0, 10).join('\n') + '\n')}`);
  });

  it('a file of no records that appears while following is said once, however much of it is appended', async () => {
    const dir = workdir();
    writeFileSync(join(dir, 'orders.ndjson'), lines(10, (i) => NOW_MS + i).join(''));
    const engine = new Engine({ input: join(dir, '*.ndjson'), workers: 1, sink: 'none' });
    const warnings: [string, WarningCode][] = [];
    engine.on('warning', (message, code) => warnings.push([message, code]));
    await engine.start();
    await until(() => engine.stats().recordsEmitted === 10, 10_000, 'history');
    const table = join(dir, 'prices.ndjson');
    writeFileSync(table, 'symbol;bid;ask\n' + Array.from({ length: 150 }, (_, i) => `BTC-€;${i};${i + 1}\n`).join(''));
    await until(() => warnings.length > 0, 10_000, 'the warning');
    for (let k = 0; k < 3; k++) appendFileSync(table, Array.from({ length: 200 }, (_, i) => `ETH;${i};${i}\n`).join(''));
    await until(() => engine.stats().rejected === 751, 10_000, 'every line rejected');
    await engine.stop();
    expect(warnings).toEqual([[expect.stringContaining('prices.ndjson: none of its first'), 'ORDERTAIL_INPUT_NOT_RECORDS']]);
    expect(warnings[0]![0]).toContain('the first begins "symbol;bid;ask"');
  });

  it('the --once summary counts unusable event times', () => {
    const dir = workdir();
    writeFileSync(join(dir, 'in.ndjson'), lines(5, (i) => (i % 2 === 0 ? 'soon' : NOW_MS)).join(''));
    const r = spawnSync(process.execPath, [BIN, 'run', '--once', '--no-metrics', join(dir, 'in.ndjson')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(5);
    const summary = r.stderr.split('\n').filter((l) => l.includes('"summary"'));
    expect(summary).toHaveLength(1);
    const parsed = JSON.parse(summary[0]!) as { msg: string; summary: { eventTimeInvalid: number } };
    expect(parsed.summary.eventTimeInvalid).toBe(3);
    expect(parsed.msg).toContain('event time unusable 3 (arrival time used)');
    expect(r.stderr.split('\n').filter((l) => l.includes('ORDERTAIL_EVENT_TIME_INVALID'))).toHaveLength(1);
  });
});
