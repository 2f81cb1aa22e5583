/**
 * The native loader never throws: with ORDERTAIL_NATIVE_PATH pointing at a
 * file that is not a loadable addon (or ORDERTAIL_NATIVE=0) it returns one
 * Error whose cause chain names every attempt. Runs in a child process so the
 * environment (read at load time, cached per process) is exactly as set.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'ordertail-native-fallback-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nativeJs = fileURLToPath(new URL('../dist/src/parser/native.js', import.meta.url));
const contractJs = fileURLToPath(new URL('../dist/src/parser/contract.js', import.meta.url));

/** Loads the parser in a fresh process and reports what came back. */
function probe(env: Record<string, string>): {
  ok: boolean;
  message?: string;
  causes?: string[];
  attempts?: { message: string; cause?: string }[];
} {
  const script = `
    const { loadNativeParser } = await import(${JSON.stringify(nativeJs)});
    const { compileParseConfig } = await import(${JSON.stringify(contractJs)});
    const r = loadNativeParser(compileParseConfig({ keyFields: ['id'], eventTimeField: 'ts', maxRecordBytes: 1024 }));
    if ('parser' in r) { console.log(JSON.stringify({ ok: true, name: r.parser.name })); process.exit(0); }
    const causes = [];
    for (let e = r.error.cause; e; e = e.cause) causes.push(e.constructor.name + ': ' + e.message);
    const attempts = (r.error.cause?.errors ?? []).map((a) => ({ message: a.message, cause: a.cause?.message }));
    console.log(JSON.stringify({ ok: false, message: r.error.message, causes, attempts }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('native loader fallback', () => {
  it('a non-loadable ORDERTAIL_NATIVE_PATH yields an error with a cause, not a throw', () => {
    const bogus = join(dir, 'ordertail.linux-x64-gnu.node');
    writeFileSync(bogus, 'this is not a shared object\n');
    const r = probe({ ORDERTAIL_NATIVE_PATH: bogus, ORDERTAIL_NATIVE: '' });
    expect(r.ok).toBe(false);
    expect(r.message).toContain(bogus);
    expect(r.causes!.length).toBeGreaterThanOrEqual(1);
    // Only the forced path is tried, and its own load error is kept as the cause.
    expect(r.attempts).toHaveLength(1);
    expect(r.attempts![0]!.message).toContain(bogus);
    expect(r.attempts![0]!.cause).toBeTruthy();
  });

  it('a missing ORDERTAIL_NATIVE_PATH is reported as not found', () => {
    const r = probe({ ORDERTAIL_NATIVE_PATH: join(dir, 'nope.node'), ORDERTAIL_NATIVE: '' });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/not found/);
  });

  it('ORDERTAIL_NATIVE=0 disables the addon', () => {
    const r = probe({ ORDERTAIL_NATIVE: '0' });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/ORDERTAIL_NATIVE=0/);
  });
});
