/**
 * records() is at-least-once across kill -9: a consumer process (helpers/
 * records-consumer.mjs) that logs each record it takes is killed at random
 * moments and restarted with the same checkpoint, then run to the end; every
 * record of the input must be in its log at least once. A checkpoint that
 * covered records still waiting in the iterator's queue would lose them.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const consumer = fileURLToPath(new URL('./helpers/records-consumer.mjs', import.meta.url));

function takenLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Runs the consumer; kills it with SIGKILL once its log has grown by `killAfterBytes` (undefined: never). */
async function runConsumer(input: string, checkpoint: string, log: string, killAfterBytes: number | undefined): Promise<'done' | 'killed'> {
  const start = sizeOf(log);
  const child = spawn(process.execPath, [consumer, input, checkpoint, log], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killed = false;
  if (killAfterBytes !== undefined) {
    void (async () => {
      while (child.exitCode === null && !killed) {
        if (sizeOf(log) - start >= killAfterBytes) {
          killed = child.kill('SIGKILL');
          return;
        }
        await sleep(2);
      }
    })();
  }
  const code = await exited;
  if (killed) return 'killed';
  if (code !== 0 || !stdout.includes('done')) throw new Error(`consumer exited ${code}: ${stderr.slice(-2000)}`);
  return 'done';
}

describe('records() across kill -9', () => {
  it('every record is delivered at least once after random kills and restarts', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const total = 8000;
    const lines: string[] = [];
    for (let i = 0; i < total; i++) lines.push(`{"id":${i},"pad":"${'p'.repeat(40)}"}`);
    writeFileSync(input, lines.join('\n') + '\n');
    const checkpoint = join(dir, 'state');
    const log = join(dir, 'taken.ndjson');
    let kills = 0;
    for (let run = 0; run < 4; run++) {
      // ~60 bytes a record: somewhere between 100 and 1,600 records into this run.
      const killAfter = Math.floor((100 + Math.random() * 1500) * 60);
      const outcome = await runConsumer(input, checkpoint, log, killAfter);
      if (outcome === 'done') break;
      kills++;
    }
    await runConsumer(input, checkpoint, log, undefined);
    expect(kills).toBeGreaterThan(0);
    const taken = new Set(takenLines(log).map((l) => (JSON.parse(l) as { id: number }).id));
    const missing: number[] = [];
    for (let i = 0; i < total; i++) if (!taken.has(i)) missing.push(i);
    expect(missing.length, `missing ids, first: ${missing.slice(0, 10).join(', ')}`).toBe(0);
  });
});
