/**
 * "Each order once" must not depend on how history is read: file count, which
 * file is live, worker count, range size, dedup implementation, or a restart
 * from a checkpoint half way. Real files, real workers; the reference is the
 * generator's own list of order instances (copies are byte-identical, so they
 * share their original's event time and are always duplicates).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../dist/src/index.js';
import { prng } from '../dist/src/util/prng.js';
import { multisetDiff, writeOrderLogs } from './helpers/order-logs.js';
import { readLines, workdir } from './helpers/workdir.js';

const WINDOW_MS = 60_000;

async function runToEnd(options: EngineOptions, stopAfterMs?: number): Promise<{ finished: boolean }> {
  const engine = new Engine(options);
  const errors: Error[] = [];
  engine.on('error', (e) => errors.push(e));
  await engine.start();
  let finished = true;
  if (stopAfterMs === undefined) {
    await engine.finished();
  } else {
    finished = await Promise.race([engine.finished().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), stopAfterMs))]);
  }
  await engine.stop();
  if (errors.length) throw errors[0];
  return { finished };
}

describe('duplicates collapse whatever order history is read in', () => {
  const trials = Array.from({ length: 8 }, (_, i) => 1000 + i);
  for (const seed of trials) {
    it(`random layout, seed ${seed}`, async () => {
      const rand = prng(seed);
      const dir = workdir();
      const files = 1 + Math.floor(rand() * 12);
      const ordersPerFile = Math.floor(24_000 / files) + Math.floor(rand() * 1000);
      const logs = writeOrderLogs(dir, { seed, files, ordersPerFile, duplicateShare: 0.2, reuseShare: 0.02, windowMs: WINDOW_MS, spanMs: 100 * 60_000 });
      const keys = logs.expected.length;
      const restart = rand() < 0.5;
      const options: EngineOptions = {
        input: join(dir, '*.ndjson'),
        once: true,
        sink: `file:${join(dir, 'out.txt')}`,
        workers: 1 + Math.floor(rand() * 3),
        rangeBytes: [4096, 16_384, 65_536, 262_144, 1 << 20][Math.floor(rand() * 5)]!,
        dedupImpl: rand() < 0.5 ? 'js' : 'auto',
        dedupWindow: WINDOW_MS,
        // Half the trials at the README's sizing advice (10x the keys), half at the default.
        ...(rand() < 0.5 ? { dedupCapacity: keys * 10 } : {}),
        ...(restart ? { checkpoint: join(dir, 'state'), checkpointInterval: 50 } : {}),
      };
      if (restart) {
        const first = await runToEnd(options, 40 + Math.floor(rand() * 200));
        if (!first.finished) await runToEnd(options);
      } else {
        await runToEnd(options);
      }
      const out = readLines(join(dir, 'out.txt'));
      const diff = multisetDiff(out, logs.expected);
      expect({ ...diff, layout: { files, ordersPerFile, restart, workers: options.workers, rangeBytes: options.rangeBytes } }).toMatchObject({ missing: 0, extra: 0 });
    });
  }
});
