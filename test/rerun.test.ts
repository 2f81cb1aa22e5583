/**
 * Running a `--once` job again: with `--sink-mode truncate` it replaces its
 * output instead of appending a second copy; and a run that fails on its
 * configuration fails before it writes anything, so a retry duplicates nothing.
 */
import { createServer } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLines, workdir } from './helpers/workdir.js';
import { plainLines, runCli } from './helpers/cli-process.js';

const BASE = ['run', '--once', '--workers', '1', '--log-level', 'warn'];

describe('re-running --once', () => {
  it('--sink-mode truncate: a second run replaces the sink and the dead-letter file', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":1}\n{"id":2}\nnot json\n');
    const sink = join(dir, 'out.ndjson');
    const dead = join(dir, 'dead.ndjson');
    const args = [...BASE, '--no-metrics', '--input', input, '--sink', `file:${sink}`, '--dead-letter', dead, '--sink-mode', 'truncate'];
    for (let run = 0; run < 2; run++) {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
      expect(readLines(sink)).toEqual(['{"id":1}', '{"id":2}']);
      expect(readLines(dead)).toHaveLength(1);
    }
  });

  it('--sink-mode append (the default) keeps what is there', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":1}\n');
    const sink = join(dir, 'out.ndjson');
    writeFileSync(sink, '{"id":0}\n');
    const r = await runCli([...BASE, '--no-metrics', '--input', input, '--sink', `file:${sink}`, '--sink-mode', 'append']);
    expect(r.code, r.stderr).toBe(0);
    expect(readLines(sink)).toEqual(['{"id":0}', '{"id":1}']);
  });

  it('an explicit --metrics-port that is taken: exit 2 naming it, before any output is written', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":1}\n{"id":2}\n');
    const sink = join(dir, 'out.ndjson');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      for (const target of [`file:${sink}`, 'stdout']) {
        const r = await runCli([...BASE, '--input', input, '--sink', target, '--metrics-port', String(port)]);
        expect(r.code, r.stderr).toBe(2);
        expect(plainLines(r.stderr)).toEqual([expect.stringContaining(`could not listen on 127.0.0.1:${port}`)]);
        expect(r.stdout).toBe('');
        expect(existsSync(sink)).toBe(false);
      }
    } finally {
      busy.close();
    }
  });
});
