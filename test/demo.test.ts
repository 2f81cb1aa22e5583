import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../bin/ordertail.js');

// `npm start` runs `ordertail demo`: the first thing a new user sees must work,
// and the demo checks its own output against what its writer wrote.
describe('ordertail demo (npm start)', () => {
  it('follows history and a live file with duplicates and corrupt lines, and every unique order comes out once', () => {
    const r = spawnSync(process.execPath, [BIN, 'demo', '--duration', '2s'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toMatch(/summary: \d+ read, (\d+) emitted \(writer produced \1 unique orders\)/);
    expect(r.stderr).not.toContain('MISMATCH');
    expect(r.status).toBe(0);
  }, 70_000);

  it('a duration that is not one: exit 2 with the flag named', () => {
    const r = spawnSync(process.execPath, [BIN, 'demo', '--duration', 'soon'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toContain('--duration');
    expect(r.status).toBe(2);
  });
});
