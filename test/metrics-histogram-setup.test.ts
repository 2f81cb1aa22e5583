import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/**
 * In a fresh process (hdr-histogram-js sets its WebAssembly up once per
 * process): counts the calls that reach hdr-histogram-js's own pako inflate
 * and base64 decoder while the engine sets the WebAssembly up, checks they are
 * in place again afterwards, and compares a WebAssembly histogram with a JS
 * one fed the same values.
 */
function setUpInFreshProcess(how: 'async' | 'sync'): Record<string, unknown> {
  const script = `
    import { createRequire } from 'node:module';
    import { loadHdr, createLatencyHistogram } from './dist/src/metrics/histograms.js';
    const require = createRequire(import.meta.url);
    const fromWasm = createRequire(require.resolve('hdr-histogram-js/dist/wasm/index.js'));
    const pako = fromWasm('pako');
    const base64 = fromWasm('base64-js');
    const calls = { inflate: 0, toByteArray: 0 };
    const inflate = pako.inflate, toByteArray = base64.toByteArray;
    const countedInflate = (...a) => { calls.inflate++; return inflate(...a); };
    const countedToByteArray = (...a) => { calls.toByteArray++; return toByteArray(...a); };
    pako.inflate = countedInflate;
    base64.toByteArray = countedToByteArray;
    const hdr = loadHdr();
    if (${JSON.stringify(how)} === 'async') await hdr.initWebAssembly(); else hdr.initWebAssemblySync();
    const wasm = createLatencyHistogram();
    const js = createLatencyHistogram(false);
    for (let i = 1; i <= 5000; i++) { const v = (i * 7919) % 100000 + 1; wasm.recordValue(v); js.recordValue(v); }
    const at = (h) => [50, 90, 99, 99.9].map((p) => h.getValueAtPercentile(p));
    console.log(JSON.stringify({
      calls,
      restored: pako.inflate === countedInflate && base64.toByteArray === countedToByteArray,
      implementation: wasm.constructor.name,
      sameAsJs: JSON.stringify(at(wasm)) === JSON.stringify(at(js)) && wasm.totalCount === js.totalCount && wasm.maxValue === js.maxValue,
    }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  return JSON.parse(child.stdout) as Record<string, unknown>;
}

describe("the latency histograms' WebAssembly is decoded by Node, and hdr-histogram-js is left as it was", () => {
  for (const how of ['async', 'sync'] as const) {
    it(`${how === 'async' ? 'initWebAssembly (a follower at start-up)' : 'initWebAssemblySync (a histogram built on demand)'}`, () => {
      expect(setUpInFreshProcess(how)).toEqual({ calls: { inflate: 0, toByteArray: 0 }, restored: true, implementation: 'WasmHistogram', sameAsJs: true });
    });
  }
});
