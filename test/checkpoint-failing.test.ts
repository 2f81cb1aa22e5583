/**
 * A checkpoint that cannot be committed (its volume full or gone) is said
 * until one lands again: a warning per failed commit and a reason in
 * readiness() (so in /readyz), while records go on flowing into the sink.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';

async function until(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : []);

describe('checkpoints that fail to commit', () => {
  it('are in readiness() and warned about until one lands; no record is lost meanwhile', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const out = join(dir, 'out.ndjson');
    const checkpoint = join(dir, 'state');
    const append = (from: number, count: number): void =>
      appendFileSync(input, Array.from({ length: count }, (_, i) => `{"id":"o${from + i}","timestamp":${Date.now()}}\n`).join(''));
    append(0, 100);
    const engine = new Engine({ input, sink: `file:${out}`, checkpoint, checkpointInterval: '100ms', workers: 1 });
    const failures: string[] = [];
    engine.on('warning', (message, code) => {
      if (code === 'ORDERTAIL_CHECKPOINT_FAILED') failures.push(message);
    });
    await engine.start();
    try {
      await until(() => lines(out).length === 100 && engine.stats().checkpoints.committed > 0, 10_000, 'the first records, committed');
      expect(engine.readiness()).toEqual({ ok: true, reasons: [] });
      // The checkpoint directory goes away and a file takes its place.
      // Prepared first, so the directory is replaced by two renames in a row (a commit between them would make it again).
      writeFileSync(`${checkpoint}.file`, 'not a directory');
      renameSync(checkpoint, `${checkpoint}.away`);
      renameSync(`${checkpoint}.file`, checkpoint);
      append(100, 100);
      await until(() => failures.length > 0, 10_000, 'a failed commit');
      // Which step fails depends on where the commit under way is: the directory check, or a rename into it.
      expect(failures[0]).toMatch(/checkpoint directory .*state cannot be used: .*state is not a directory|not committed: ENOTDIR: .*state\//);
      expect(engine.stats().checkpoints.failed).toBeGreaterThan(0);
      const readiness = engine.readiness();
      expect(readiness.ok).toBe(false);
      expect(readiness.reasons).toEqual([expect.stringMatching(/^checkpoint .*state: the latest commit failed \(.*(is not a directory|ENOTDIR).*\); the last committed at \d{4}-\d\d-\d\dT/)]);
      await until(() => lines(out).length === 200, 10_000, 'records while checkpoints fail');
      // Back: the next commit lands, and readiness with it.
      rmSync(checkpoint);
      renameSync(`${checkpoint}.away`, checkpoint);
      append(200, 100);
      await until(() => engine.readiness().ok, 10_000, 'readiness once a commit lands');
      await until(() => lines(out).length === 300, 10_000, 'every record');
      expect(new Set(lines(out)).size).toBe(300);
    } finally {
      await engine.stop();
    }
  });
});
