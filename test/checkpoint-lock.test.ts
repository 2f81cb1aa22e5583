/**
 * One engine per checkpoint directory: a second one exits 2 naming the
 * holder before it reads or writes anything; a lock left by a dead process is
 * taken over.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, workdir } from './helpers/workdir.js';
import { plainLines, runCli, startCli } from './helpers/cli-process.js';

const BASE = ['run', '--no-metrics', '--workers', '1', '--log-level', 'warn'];

function orders(path: string, from: number, count: number): void {
  appendFileSync(path, Array.from({ length: count }, (_, i) => `{"id":${from + i}}`).join('\n') + '\n');
}

describe('checkpoint directory lock', () => {
  it('the same command started twice (default checkpoint directory): the second exits 2 naming the first; output stays exactly-once', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const sink = join(dir, 'out.ndjson');
    orders(input, 0, 5000);
    const env = { ORDERTAIL_STATE_DIR: join(dir, 'state') };
    const args = [...BASE, '--input', input, '--sink', `file:${sink}`];
    const first = startCli(args, { env });
    for (let i = 0; i < 300 && readLines(sink).length < 5000; i++) await new Promise((r) => setTimeout(r, 50));
    expect(readLines(sink)).toHaveLength(5000);

    const second = await runCli(args, { env, timeoutMs: 15_000 });
    expect(second.code, second.stderr).toBe(2);
    expect(plainLines(second.stderr)).toEqual([expect.stringMatching(new RegExp(`checkpoint .*lock is held by pid ${first.child.pid} `))]);

    orders(input, 5000, 10);
    for (let i = 0; i < 200 && readLines(sink).length < 5010; i++) await new Promise((r) => setTimeout(r, 50));
    first.child.kill('SIGTERM');
    expect(await first.exit(10_000), first.stderr()).toBe(0);
    const lines = readLines(sink);
    expect(lines).toHaveLength(5010);
    expect(new Set(lines).size).toBe(5010);

    // The checkpoint is intact and the lock released: a restart resumes and reads only what is new.
    orders(input, 6000, 3);
    const again = startCli(args, { env });
    for (let i = 0; i < 200 && readLines(sink).length < 5013; i++) await new Promise((r) => setTimeout(r, 50));
    again.child.kill('SIGTERM');
    expect(await again.exit(10_000), again.stderr()).toBe(0);
    expect(again.stderr()).not.toMatch(/missing|corrupt|error/i);
    expect(readLines(sink)).toHaveLength(5013);
  });

  it('a lock left by a killed engine is taken over with a warning', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const sink = join(dir, 'out.ndjson');
    const checkpoint = join(dir, 'cp');
    orders(input, 0, 100);
    const args = [...BASE, '--input', input, '--sink', `file:${sink}`, '--checkpoint', checkpoint];
    const first = startCli(args);
    for (let i = 0; i < 200 && readLines(sink).length < 100; i++) await new Promise((r) => setTimeout(r, 50));
    const pid = first.child.pid;
    first.child.kill('SIGKILL');
    await first.exit();
    expect(existsSync(join(checkpoint, 'lock'))).toBe(true);

    orders(input, 100, 5);
    const second = startCli(args);
    await second.waitFor(new RegExp(`left by pid ${pid} .*no longer running: taking it over`), 'stderr');
    for (let i = 0; i < 200 && readLines(sink).length < 105; i++) await new Promise((r) => setTimeout(r, 50));
    second.child.kill('SIGTERM');
    expect(await second.exit(10_000), second.stderr()).toBe(0);
    expect(new Set(readLines(sink)).size).toBe(105);
    expect(readLines(sink)).toHaveLength(105);
    expect(existsSync(join(checkpoint, 'lock'))).toBe(false);
  });

  it('library: a second Engine on the same directory is refused (CheckpointLockedError), the first keeps it', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":1}\n');
    const checkpoint = join(dir, 'cp');
    const a = new Engine({ input, sink: 'none', checkpoint, workers: 1 });
    await a.start();
    const b = new Engine({ input, sink: 'none', checkpoint, workers: 1 });
    await expect(b.start()).rejects.toMatchObject({ name: 'CheckpointLockedError', code: 'ORDERTAIL_CHECKPOINT_LOCKED', holder: { pid: process.pid } });
    expect(JSON.parse(readFileSync(join(checkpoint, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid });
    await a.stop();
    expect(existsSync(join(checkpoint, 'lock'))).toBe(false);
    const c = new Engine({ input, sink: 'none', checkpoint, workers: 1 });
    await c.start();
    await c.stop();
  });
});
