/**
 * A follower collects start-up's garbage before it says `ready`: the first
 * scavenge under load would otherwise copy everything start-up left in the
 * young generation while the first live records wait (bench/RESULTS.md). A
 * `--once` run does not (it is not waiting for live records). Read from V8's
 * own GC trace: a collection asked for by gc() is logged with reason "testing".
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';

/** V8's GC trace of the CLI, stopped once it is ready (the whole trace, read after it exits). */
function traceUntilReady(args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--trace-gc', BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let trace = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (trace += d));
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (/"ready":true/.test(err) && child.exitCode === null) child.kill('SIGTERM');
    });
    child.on('close', (code) => (/"ready":true/.test(err) ? resolve(trace) : reject(new Error(`exited ${code} before ready: ${err}`))));
  });
}

describe('start-up garbage', () => {
  it('a follower runs a full collection before ready; a --once run does not', async () => {
    const dir = workdir();
    const input = join(dir, 'live.ndjson');
    writeFileSync(input, '{"id":1}\n');
    const out = join(dir, 'out.ndjson');
    const follow = await traceUntilReady(['run', '--no-metrics', '--no-checkpoint', '--input', input, '--sink', `file:${out}`]);
    expect(follow).toMatch(/Mark-Compact[^\n]*testing/);
    const once = await traceUntilReady(['run', '--once', '--no-metrics', '--input', input, '--sink', `file:${join(dir, 'once.ndjson')}`]);
    expect(once).toMatch(/Scavenge|Mark-Compact/);
    expect(once).not.toMatch(/testing/);
  });
});
