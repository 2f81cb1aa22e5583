/**
 * One engine per checkpoint directory: a second one exits 2 naming the
 * holder before it reads or writes anything; a lock left by a dead process is
 * taken over. One engine per output file, whatever its checkpoint directory.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, workdir } from './helpers/workdir.js';
import { plainLines, runCli, startCli } from './helpers/cli-process.js';
import { loadNativeAddon } from '../dist/src/parser/native.js';

const addon = loadNativeAddon();
// The output lock is a flock, which Node reaches only through the addon.
const NATIVE_MISSING = 'error' in addon ? `native addon not built (${addon.error.message})` : undefined;
if (NATIVE_MISSING) console.log(`checkpoint-lock: the output-file lock case skipped: ${NATIVE_MISSING}`);

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

  it.skipIf(NATIVE_MISSING !== undefined)('a second engine on the same output file, with a checkpoint directory of its own or none, exits 2 naming it before writing; the first keeps it', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const sink = join(dir, 'out.ndjson');
    const deadLetter = join(dir, 'rejects.ndjson');
    orders(input, 0, 1000);
    appendFileSync(input, 'not json\n');
    const first = startCli([...BASE, '--input', input, '--sink', `file:${sink}`, '--dead-letter', deadLetter, '--checkpoint', join(dir, 'ck-1')]);
    for (let i = 0; i < 300 && readLines(sink).length < 1000; i++) await new Promise((r) => setTimeout(r, 50));
    expect(readLines(sink)).toHaveLength(1000);
    const inUse = /cannot be opened: another process writes it \(another ordertail, with a checkpoint directory of its own or none\?\): two writers would interleave and repeat every record \(EAGAIN\)$/;
    // Before: the second appended every record again, and each would cut the other's back at a restart.
    for (const own of [['--checkpoint', join(dir, 'ck-2')], ['--no-checkpoint'], ['--once']]) {
      const second = await runCli([...BASE, '--input', input, '--sink', `file:${sink}`, ...own], { timeoutMs: 15_000 });
      expect(second.code, second.stderr).toBe(2);
      expect(plainLines(second.stderr)).toEqual([expect.stringMatching(new RegExp(`^ordertail: sink file:.*out\\.ndjson ${inUse.source}`))]);
    }
    const onDeadLetter = await runCli([...BASE, '--once', '--input', input, '--sink', 'none', '--dead-letter', deadLetter], { timeoutMs: 15_000 });
    expect(onDeadLetter.code, onDeadLetter.stderr).toBe(2);
    expect(plainLines(onDeadLetter.stderr)).toEqual([expect.stringMatching(new RegExp(`^ordertail: dead-letter file .*rejects\\.ndjson ${inUse.source}`))]);
    expect(readLines(sink)).toHaveLength(1000);
    expect(readLines(deadLetter)).toHaveLength(1);
    // A device is shared by design: two engines may both write file:/dev/null.
    const nullFollower = startCli([...BASE, '--no-checkpoint', '--input', input, '--sink', 'file:/dev/null', '--log-level', 'info']);
    await nullFollower.waitFor(/ready: following/, 'stderr');
    const nullOnce = await runCli([...BASE, '--once', '--input', input, '--sink', 'file:/dev/null'], { timeoutMs: 15_000 });
    expect(nullOnce.code, nullOnce.stderr).toBe(0);
    nullFollower.child.kill('SIGTERM');
    expect(await nullFollower.exit(10_000)).toBe(0);
    orders(input, 1000, 10);
    for (let i = 0; i < 200 && readLines(sink).length < 1010; i++) await new Promise((r) => setTimeout(r, 50));
    // Killed, the first leaves no lock behind: a restart on its checkpoint takes the files again.
    first.child.kill('SIGKILL');
    await first.exit(10_000);
    orders(input, 2000, 5);
    const again = startCli([...BASE, '--input', input, '--sink', `file:${sink}`, '--dead-letter', deadLetter, '--checkpoint', join(dir, 'ck-1')]);
    for (let i = 0; i < 200 && readLines(sink).length < 1015; i++) await new Promise((r) => setTimeout(r, 50));
    again.child.kill('SIGTERM');
    expect(await again.exit(10_000), again.stderr()).toBe(0);
    const lines = readLines(sink);
    expect(lines).toHaveLength(1015);
    expect(new Set(lines).size).toBe(1015);
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
