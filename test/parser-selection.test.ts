import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnce, workdir } from './helpers/workdir.js';

const BIN = resolve(import.meta.dirname, '../bin/ordertail.js');
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });

function sampleLog(dir: string): string {
  const path = join(dir, 'in.ndjson');
  const lines = Array.from({ length: 3000 }, (_, i) => `{"id":${i % 2500},"timestamp":"2026-11-25T10:00:${String(i % 60).padStart(2, '0')}Z","s":"é ${i}"}`);
  lines.splice(100, 0, '{"id": bad', '[1,2]', '{"id":7} x');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('parser selection', () => {
  it('auto falls back to js, says so, and works when the addon cannot load', () => {
    const dir = workdir();
    const input = sampleLog(dir);
    const r = cli(['run', '--once', '--input', input, '--sink', 'none', '--parser', 'auto'], { ORDERTAIL_NATIVE_PATH: join(dir, 'missing.node') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/native parser unavailable, using js: .*missing\.node/);
    expect(r.stderr).toMatch(/parser: js/);
  });

  it('an explicitly requested parser that cannot load is a usage error (exit 2), not a silent fallback', () => {
    const dir = workdir();
    const r = cli(['run', '--once', '--input', sampleLog(dir), '--parser', 'native'], { ORDERTAIL_NATIVE_PATH: join(dir, 'missing.node') });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/--parser native: .*could not be loaded/);
  });

  it.each(['js', 'simdjson', 'auto'] as const)('--parser %s gives the same output, rejects and counts', async (parser) => {
    const dir = workdir();
    const input = sampleLog(dir);
    const reference = await runOnce(dir, { input, parser: 'js' });
    const r = await runOnce(dir, { input, parser });
    expect(r.lines).toEqual(reference.lines);
    expect(r.deadLetters).toEqual(reference.deadLetters);
    expect(r.stats.duplicates).toBe(500);
    expect(r.stats.rejected).toBe(3);
    expect(r.stats.parser).toBe(parser === 'auto' ? r.stats.parser : parser);
  });

  it('shadow mode re-parses sampled ranges, compares every record, and never changes the output', async () => {
    const dir = workdir();
    const input = sampleLog(dir);
    const plain = await runOnce(dir, { input, parser: 'js' });
    const shadowed = await runOnce(dir, { input, parser: 'js', parserShadow: 'simdjson', shadowSample: 1, rangeBytes: 16 * 1024 });
    expect(shadowed.lines).toEqual(plain.lines);
    expect(shadowed.stats.shadow.compared).toBe(shadowed.stats.recordsRead);
    expect(shadowed.stats.shadow.mismatches).toBe(0);
  });
});
