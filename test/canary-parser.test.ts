/**
 * The canary parser (README, "Options"; issue 20's staged rollout): a share
 * of the input files, chosen by a hash of each file's identity, is parsed by
 * `canaryParser` instead of `parser`, on the pool and in the live lane; the
 * output is the same bytes, the canary's ranges and bytes are counted and on
 * /metrics, and the share changes at a reload.
 */
import { appendFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../dist/src/index.js';
import { identityOfPath } from '../dist/src/checkpoint/identity.js';
import { inCanary } from '../dist/src/pool/canary.js';
import { loadNativeAddon } from '../dist/src/parser/native.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const addon = loadNativeAddon();
const NATIVE_MISSING = 'error' in addon ? `native addon not built (${addon.error.message})` : undefined;

function orders(path: string, prefix: string, count: number): void {
  const t = Date.now();
  appendFileSync(path, Array.from({ length: count }, (_, i) => `{"id":"${prefix}-${i}","timestamp":${t + i},"note":"Zürich ${'x'.repeat(i % 50)}"}`).join('\n') + '\n');
}

describe.skipIf(NATIVE_MISSING)('canary parser', () => {
  if (NATIVE_MISSING) console.log(`canary parser tests skipped: ${NATIVE_MISSING}`);

  it('parses the share of files its hash selects, the output unchanged; the share changes at a reload', async () => {
    const dir = workdir();
    const out = join(dir, 'out.ndjson');
    const files = Array.from({ length: 16 }, (_, i) => join(dir, `h${i}.ndjson`));
    files.forEach((path, i) => orders(path, `h${i}`, 2000));
    const live = join(dir, 'live.ndjson');
    writeFileSync(live, '');
    const share = 0.5;
    const inShare = files.filter((path) => inCanary(identityOfPath(path)!.key, share));
    // The hash splits these files: some in, some out (a fixed property of the hash for 16 files).
    expect(inShare.length).toBeGreaterThan(0);
    expect(inShare.length).toBeLessThan(files.length);
    const options: EngineOptions = { input: [...files, live], sink: `file:${out}`, workers: 2, parser: 'js', canaryParser: 'native', canaryShare: share, rangeBytes: '64KiB' };
    const engine = new Engine(options);
    await engine.start();
    try {
      await until(() => readLines(out).length === 32_000, 30_000, 'the history');
      const history = engine.features();
      expect(history).toMatchObject({ canaryParser: 'native', canaryShare: share });
      expect(history.canaryBytes).toBe(inShare.reduce((n, path) => n + statSync(path).size, 0));
      expect(history.canaryRanges).toBeGreaterThanOrEqual(inShare.length);
      const ids = new Set(readLines(out).map((l) => (JSON.parse(l) as { id: string }).id));
      expect(ids.size).toBe(32_000);
      // The output is the input's bytes, whichever parser read them.
      const expected = new Set(files.flatMap((path) => readLines(path)));
      expect(readLines(out).every((line) => expected.has(line))).toBe(true);

      // Every file in the canary from now on: the live file's growth goes through it (the live lane).
      expect(engine.reload({ ...options, canaryShare: 1 }).applied).toEqual(['canaryShare']);
      orders(live, 'l1', 500);
      await until(() => readLines(out).length === 32_500, 10_000, 'live records');
      const all = engine.features();
      expect(all.canaryRanges).toBeGreaterThan(history.canaryRanges);
      expect(all.canaryBytes - history.canaryBytes).toBe(statSync(live).size);
      // None: the counters stand still.
      engine.reload({ ...options, canaryShare: 0 });
      expect(engine.features()).toMatchObject({ canaryShare: 0 });
      orders(live, 'l2', 500);
      await until(() => readLines(out).length === 33_000, 10_000, 'more live records');
      expect(engine.features().canaryRanges).toBe(all.canaryRanges);
    } finally {
      await engine.stop();
    }
  }, 60_000);
});
