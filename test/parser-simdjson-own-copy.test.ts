// Node 22 and later have simdjson built in and export its symbols for addons.
// Loaded plainly, the simdjson package's addon had its calls bound to Node's
// copy (another version, another layout): on Node 24 an engine with
// `parser: 'simdjson'` crashed with SIGSEGV now and then (in one of about six
// runs of a 3,000-line file with glued records), after corrupting the
// parser's memory. The addon must run its own copy, and the engine must live.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSimdjson } from '../dist/src/parser/simdjson-parser.js';
import { workdir } from './helpers/workdir.js';

const DIST = resolve(import.meta.dirname, '../dist/src');
const usable = loadSimdjson();
const missing = usable instanceof Error ? `simdjson parser not usable here (${usable.message})` : process.platform !== 'linux' ? 'symbol bindings are checked on Linux only' : '';
if (missing) console.log(`skipped: ${missing}`);

function node(script: string, env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(missing !== '')('the simdjson parser runs its own simdjson', () => {
  it(`none of the addon's simdjson calls is bound to Node's built-in copy (Node ${process.version}, simdjson ${process.versions.simdjson ?? 'not built in'})`, () => {
    const dir = workdir('ordertail-simdjson-');
    const script = `
      const { loadSimdjson } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'parser/simdjson-parser.js')).href)});
      const mod = loadSimdjson();
      if (mod instanceof Error) throw mod;
      console.log(mod.isValid('{"id":"ордер","m":{"a":[1,2.5e3,null]}}'), mod.isValid('{"id":'));`;
    const r = node(script, { LD_DEBUG: 'bindings', LD_DEBUG_OUTPUT: join(dir, 'ld') });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('true false');
    const logs = readdirSync(dir).filter((f) => f.startsWith('ld'));
    expect(logs.length, 'LD_DEBUG wrote no binding log (not glibc?)').toBeGreaterThan(0);
    const bindings = logs.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n')).filter((l) => /binding file \S*simdjson\.node /.test(l));
    expect(bindings.length, 'the addon was loaded and its calls bound').toBeGreaterThan(0);
    // Mangled simdjson names contain "8simdjson"; a binding to any other object than the addon is to Node's copy.
    const elsewhere = bindings.filter((l) => /symbol `\S*8simdjson/.test(l) && !/ to \S*simdjson\.node /.test(l));
    expect(elsewhere.slice(0, 3), `${elsewhere.length} simdjson symbols bound outside the addon`).toEqual([]);
  });

  it('engines parsing glued records with it in worker threads, run after run: no crash, every record out', () => {
    const dir = workdir('ordertail-simdjson-');
    const input = join(dir, 'orders.ndjson');
    // Whole records, halves glued to the next one, two on a line, garbage: many short isValid calls per range.
    const lines: string[] = [];
    let expected = 0;
    const notes = ['', ',"note":"ордер ✓ 東京"', ',"meta":{"desk":"Zürich","tags":["a","b"]}', ',"note":"a {brace} and \\"quotes\\""'];
    for (let i = 0; i < 3000; i++) {
      const whole = `{"id":"r${i}","ts":1700000000000${notes[i % notes.length]}}`;
      if (i % 4 === 1) lines.push(`{"id":"dead${i}","ts":17000${whole}`);
      else if (i % 20 === 3) {
        lines.push(`garbage {not a record} ${i}`);
        continue;
      } else if (i % 4 === 2) {
        lines.push(whole + `{"id":"r${i}b","ts":1700000000001}`);
        expected++;
      } else lines.push(whole);
      expected++;
    }
    writeFileSync(input, lines.join('\n') + '\n');
    const runs = 20;
    const script = `
      const { Engine } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'index.js')).href)});
      let emitted = 0;
      for (let k = 0; k < ${runs}; k++) {
        const engine = new Engine({ input: ${JSON.stringify(input)}, dedupKey: 'id', eventTime: 'ts', workers: 2, parser: 'simdjson', rangeBytes: 8192, once: true, sink: 'none' });
        await engine.start();
        await engine.finished();
        await engine.stop();
        emitted += engine.stats().recordsEmitted;
      }
      console.log(emitted);`;
    const r = node(script);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(Number(r.stdout.trim())).toBe(runs * expected);
  });
});
