/**
 * A failure that stops the engine ends the process with the documented code
 * and a line saying what failed: never an idle process after a fatal error.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';
import { BIN, MOUNT_MISSING, plainLines, startCli } from './helpers/cli-process.js';

if (MOUNT_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(MOUNT_MISSING);
if (MOUNT_MISSING) console.log(`failure-exits: disk-full cases skipped: ${MOUNT_MISSING}`);

const mounts: string[] = [];
afterEach(() => {
  while (mounts.length) spawnSync('umount', ['-l', mounts.pop()!]);
});

/** A 2 MiB tmpfs: the file sink on it fills up. */
function smallDisk(dir: string): string {
  const mount = join(dir, 'full');
  mkdirSync(mount);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]);
  if (r.status !== 0) throw new Error(`mount failed: ${r.stderr.toString()}`);
  mounts.push(mount);
  return mount;
}

function orders(path: string, count: number): void {
  writeFileSync(path, Array.from({ length: count }, (_, i) => `{"id":${i},"pad":"${'x'.repeat(80)}"}`).join('\n') + '\n');
}

describe('fatal errors end the process', () => {
  it.skipIf(MOUNT_MISSING)('follow mode, the file sink runs out of space: exit 1 on its own, naming the sink and ENOSPC', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 40_000); // ~4 MB: twice the disk
    const out = join(smallDisk(dir), 'out.ndjson');
    const p = startCli(['run', '--no-metrics', '--no-checkpoint', '--workers', '1', '--log-level', 'error', '--input', input, '--sink', `file:${out}`]);
    expect(await p.exit(15_000), p.stderr()).toBe(1);
    expect(p.stderr()).toContain(`writing to file:${out} failed: ENOSPC`);
    expect(plainLines(p.stderr()).length).toBeLessThanOrEqual(1);
  });

  it.skipIf(MOUNT_MISSING)('follow mode, the disk fills while following: exit 1 after the failing append', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 10);
    const out = join(smallDisk(dir), 'out.ndjson');
    const p = startCli(['run', '--no-metrics', '--no-checkpoint', '--workers', '1', '--log-level', 'error', '--input', input, '--sink', `file:${out}`]);
    // Wait until the first records are out, then append more than the disk holds.
    for (let i = 0; i < 200 && (statSync(out, { throwIfNoEntry: false })?.size ?? 0) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    appendFileSync(input, Array.from({ length: 40_000 }, (_, i) => `{"id":${i + 10},"pad":"${'y'.repeat(80)}"}`).join('\n') + '\n');
    expect(await p.exit(15_000), p.stderr()).toBe(1);
    expect(p.stderr()).toContain('ENOSPC');
  });

  it.skipIf(MOUNT_MISSING)('--once, the disk fills: exit 1 with a "failed:" summary; space freed, a restart from the checkpoint writes every record once', () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 40_000); // ~4 MB: twice the disk
    const disk = smallDisk(dir);
    const out = join(disk, 'out.ndjson');
    const args = ['run', '--once', '--no-metrics', '--checkpoint', join(dir, 'ckpt'), '--input', input, '--sink', `file:${out}`];
    const first = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(first.status, first.stderr).toBe(1);
    expect(first.stderr).toContain(`writing to file:${out} failed: ENOSPC`);
    expect(first.stderr).toMatch(/"msg":"failed: read \d+, emitted \d+, .*a restart resumes from the last checkpoint and writes what is missing, once"/);
    expect(spawnSync('mount', ['-o', 'remount,size=16m', disk]).status).toBe(0);
    const second = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(second.status, second.stderr).toBe(0);
    const ids = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids).toHaveLength(40_000);
    expect(new Set(ids).size).toBe(40_000);
  });
});
