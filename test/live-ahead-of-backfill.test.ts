/*
 * A live record during a backfill, with a reader of stdout slower than the
 * backfill: the record goes ahead of the history output the engine still
 * holds, not behind it; a file's own records stay in its order, also when
 * more grows than may wait ahead of the history; every record comes out once.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';

const PAD = 'é'.repeat(400);
const order = (id: string, i: number): string => `{"id":"${id}","timestamp":${1_764_720_000_000 + i},"symbol":"ETH/USDT","note":"${PAD}"}`;
const lines = (prefix: string, n: number): string => Array.from({ length: n }, (_, i) => order(`${prefix}${i}`, i)).join('\n') + '\n';

describe('live records during a backfill to a slow stdout reader', () => {
  it('go ahead of the queued history output; each file keeps its order; every record once', { timeout: 60_000 }, async () => {
    const dir = workdir();
    const history = [join(dir, 'h1.ndjson'), join(dir, 'h2.ndjson')];
    for (const [k, path] of history.entries()) writeFileSync(path, lines(`h${k}-`, 12_000));
    // A followed file with a backlog of its own, and one that starts empty.
    const withBacklog = join(dir, 'live-backlog.ndjson');
    writeFileSync(withBacklog, lines('b-', 3_000));
    const fresh = join(dir, 'live-fresh.ndjson');
    writeFileSync(fresh, '');
    const child = spawn(process.execPath, [BIN, 'run', ...[...history, withBacklog, fresh].flatMap((p) => ['--input', p]), '--workers', '2', '--no-checkpoint', '--no-metrics'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Nobody reads stdout yet: the pipe fills and the engine holds the rest of the backfill.
      child.stdout.pause();
      const deadline = Date.now() + 20_000;
      while (!stderr.includes('"ready":true')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ready line; stderr: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 500));
      appendFileSync(fresh, order('fresh-live', 1) + '\n');
      appendFileSync(withBacklog, order('b-live', 99_999) + '\n');
      await new Promise((r) => setTimeout(r, 300));
      // More growth than may wait ahead of the history (1 MiB): the rest waits behind it, in order.
      for (let batch = 0; batch < 40; batch++) {
        appendFileSync(fresh, Array.from({ length: 200 }, (_, i) => order(`f-${batch * 200 + i}`, 10 + batch * 200 + i)).join('\n') + '\n');
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 300));

      const chunks: Buffer[] = [];
      let total = 0;
      const expected = 2 * 12_000 + 3_000 + 2 + 8_000;
      let newlines = 0;
      child.stdout.on('data', (d: Buffer) => {
        chunks.push(d);
        total += d.length;
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) newlines++;
      });
      child.stdout.resume();
      while (newlines < expected) {
        if (Date.now() > deadline + 20_000) throw new Error(`${newlines} of ${expected} records; stderr: ${stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const out = Buffer.concat(chunks, total);
      const historyBytes = out.length;
      const ids = out.toString('utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
      expect(new Set(ids).size).toBe(expected);
      expect(ids.length).toBe(expected);

      // The fresh file's record came out behind at most the pipe's content and a piece or two under way.
      const freshAt = out.indexOf('"id":"fresh-live"');
      expect(freshAt).toBeGreaterThan(0);
      if (process.env.SHOW_AT) console.log(`fresh record at byte ${freshAt} of ${historyBytes}`);
      expect(freshAt, `at byte ${freshAt} of ${historyBytes}`).toBeLessThan(512 * 1024);
      expect(historyBytes).toBeGreaterThan(20 * freshAt);

      const grown = ids.filter((id) => id.startsWith('f'));
      expect(grown).toEqual(['fresh-live', ...Array.from({ length: 8_000 }, (_, i) => `f-${i}`)]);

      // The file with a backlog: its records in file order, the appended one last.
      const own = ids.filter((id) => id.startsWith('b-'));
      expect(own).toEqual([...Array.from({ length: 3_000 }, (_, i) => `b-${i}`), 'b-live']);
      for (const k of [0, 1]) {
        const h = ids.filter((id) => id.startsWith(`h${k}-`));
        expect(h).toEqual(Array.from({ length: 12_000 }, (_, i) => `h${k}-${i}`));
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
