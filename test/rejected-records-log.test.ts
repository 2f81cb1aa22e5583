/**
 * A rejected record is never only a count: without a dead-letter file, the
 * first ones are logged with where they are and why, and later ones summed
 * up at most once a minute; with one, the file has them and the log does not
 * repeat them above debug.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rejectsLogger } from '../dist/src/metrics/rejects-log.js';
import type { Logger } from '../dist/src/metrics/logger.js';
import { workdir } from './helpers/workdir.js';

const BIN = resolve(import.meta.dirname, '../bin/ordertail.js');

/** 30 lines, every even one not JSON: [file, the bad lines' offsets]. */
function mixedInput(dir: string): [string, number[]] {
  const path = join(dir, 'in.ndjson');
  const lines = Array.from({ length: 30 }, (_, i) => (i % 2 === 1 ? `{"id":"${i}"}` : `{bad ${i}`));
  writeFileSync(path, lines.join('\n') + '\n');
  const offsets: number[] = [];
  let at = 0;
  for (const [i, line] of lines.entries()) {
    if (i % 2 === 0) offsets.push(at);
    at += Buffer.byteLength(line) + 1;
  }
  return [path, offsets];
}

const rejectLines = (stderr: string): Record<string, unknown>[] =>
  stderr
    .split('\n')
    .filter((l) => l.includes('ORDERTAIL_RECORD_REJECTED'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('rejected records in the log', () => {
  it('without --dead-letter: the first 10 with file, offset and reason; the run counts all 15', () => {
    const dir = workdir();
    const [input, offsets] = mixedInput(dir);
    const r = spawnSync(process.execPath, [BIN, 'run', '--once', '--no-metrics', '--input', input, '--sink', 'none'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const logged = rejectLines(r.stderr);
    expect(logged.map((l) => [l.level, l.file, l.offset, l.reason])).toEqual(offsets.slice(0, 10).map((o) => ['warn', input, o, 'invalid_json']));
    expect(logged[9]!.msg).toMatch(/further ones are counted/);
    expect(r.stderr).toMatch(/"msg":"done: read 30, emitted 15, duplicates 0, rejected 15 \(invalid_json 15\)/);
  });

  it('with --dead-letter: every one in the file, none logged above debug', () => {
    const dir = workdir();
    const [input, offsets] = mixedInput(dir);
    const dead = join(dir, 'dead.ndjson');
    const r = spawnSync(process.execPath, [BIN, 'run', '--once', '--no-metrics', '--input', input, '--sink', 'none', '--dead-letter', dead], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(rejectLines(r.stderr)).toEqual([]);
    const kept = readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { offset: number });
    expect(kept.map((d) => d.offset)).toEqual(offsets);
  });

  it('after the first 10, one line a minute with how many more, by reason', () => {
    const lines: [string, Record<string, unknown>, string][] = [];
    const logger = {
      warn: (fields: Record<string, unknown>, msg: string) => void lines.push(['warn', fields, msg]),
      debug: (fields: Record<string, unknown>, msg: string) => void lines.push(['debug', fields, msg]),
    } as unknown as Logger;
    let clock = 0;
    const log = rejectsLogger(logger, () => false, () => clock);
    for (let i = 0; i < 25; i++) log({ file: 'f', offset: i, reason: i % 3 === 0 ? 'too_large' : 'invalid_json' });
    expect(lines).toHaveLength(10);
    clock += 60_000;
    log({ file: 'f', offset: 25, reason: 'invalid_utf8' });
    expect(lines).toHaveLength(11);
    expect(lines[10]![1]).toEqual({ code: 'ORDERTAIL_RECORD_REJECTED', notShown: { invalid_json: 10, too_large: 5, invalid_utf8: 1 } });
    expect(lines[10]![2]).toBe('16 more record(s) rejected (invalid_json 10, too_large 5, invalid_utf8 1) since the last line; no --dead-letter file keeps them');
    log({ file: 'f', offset: 26, reason: 'invalid_json' });
    expect(lines).toHaveLength(11);
    // A dead-letter file given by a reload: debug from then on.
    const kept = rejectsLogger(logger, () => true);
    kept({ file: 'f', offset: 1, reason: 'invalid_json' });
    expect(lines.at(-1)).toEqual(['debug', { file: 'f', offset: 1, reason: 'invalid_json' }, 'record rejected']);
  });
});
