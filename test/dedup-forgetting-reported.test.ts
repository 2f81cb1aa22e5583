/**
 * A table too small for the keys never fails silently: the engine warns once
 * (with the capacity that would have held them), counts it in stats and
 * /metrics, and a --once run's last line says how many keys were forgotten.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { until, workdir } from './helpers/workdir.js';

const BIN = new URL('../bin/ordertail.js', import.meta.url).pathname;
const lines = (from: number, to: number, t: number): string =>
  Array.from({ length: to - from }, (_, i) => `{"id":"k${from + i}","timestamp":${t}}`).join('\n') + '\n';

describe('forgetting keys inside the window is reported', () => {
  it('follow mode: one warning naming the capacity that would hold the keys, and the counters', async () => {
    const dir = workdir();
    const input = join(dir, 'orders.ndjson');
    writeFileSync(input, '');
    const engine = new Engine({ input, sink: 'none', workers: 1, dedupCapacity: 7 });
    const warnings: string[] = [];
    engine.on('warning', (m) => warnings.push(m));
    await engine.start();
    try {
      appendFileSync(input, lines(0, 300, 1_700_000_000_000));
      await until(() => engine.stats().recordsRead === 300, 10_000, '300 records');
      appendFileSync(input, lines(300, 600, 1_700_000_000_000));
      await until(() => engine.stats().recordsRead === 600, 10_000, '600 records');
      const full = warnings.filter((w) => w.startsWith('dedup table full'));
      expect(full).toHaveLength(1);
      expect(full[0]).toMatch(/--dedup-capacity \d+/);
      const s = engine.stats();
      expect(s.dedupForgottenInWindow).toBeGreaterThan(0);
      expect(s.dedupForgotten).toBeGreaterThanOrEqual(s.dedupForgottenInWindow);
      expect(s.recordsEmitted).toBe(600);
    } finally {
      await engine.stop();
    }
  });

  it('--once: the summary line accounts for every record, as a warning when keys were forgotten in the window', () => {
    const dir = workdir();
    const input = join(dir, 'orders.ndjson');
    writeFileSync(input, lines(0, 400, 1_700_000_000_000) + lines(0, 100, 1_700_000_000_000) + '{"x":1}\nnot json\n');
    const run = (capacity: string): { level: string; msg: string; summary?: Record<string, unknown> } => {
      const r = spawnSync(process.execPath, [BIN, 'run', '--once', '--no-metrics', '--input', input, '--sink', 'none', '--dedup-capacity', capacity], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const done = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: string; msg: string; summary?: Record<string, unknown> })
        .filter((l) => l.msg.startsWith('done:'));
      expect(done).toHaveLength(1);
      return done[0]!;
    };
    const roomy = run('auto');
    expect(roomy.level).toBe('info');
    expect(roomy.msg).toMatch(/^done: read 502, emitted 401, duplicates 100, rejected 1 \(invalid_json 1\), without key 1, dedup forgotten 0 \(0 inside the window/);
    const tiny = run('7');
    expect(tiny.level).toBe('warn');
    expect(tiny.summary).toMatchObject({ read: 502, withoutKey: 1 });
    expect(tiny.summary!.dedupForgottenInWindow as number).toBeGreaterThan(0);
  });

  it('a capacity or memory cap no table can have is a usage error naming the flag, before anything is read', () => {
    const dir = workdir();
    const input = join(dir, 'orders.ndjson');
    writeFileSync(input, lines(0, 10, 1_700_000_000_000));
    for (const [flag, value] of [['--dedup-capacity', '300000000'], ['--dedup-capacity', '0'], ['--dedup-memory', '5GiB']] as const) {
      const r = spawnSync(process.execPath, [BIN, 'run', '--once', '--no-metrics', '--input', input, '--sink', 'none', flag, value], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(flag === '--dedup-capacity' ? /dedupCapacity: expected an integer from 1 to \d+/ : /dedupMemory: expected a size/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
