#!/usr/bin/env node
// End-to-end parseChunk throughput of the native addon vs the JS reference on
// the three record shapes (small ~260 B orders, wide ~1.6 KB, str ~49 KB),
// Lines framing, one call per chunk, as a worker would run it.
// Run after `npx tsc -p tsconfig.json` and building the addon:
//   node native/bench-js.mjs [ms-per-case]
import { compileParseConfig, Framing, SLOT_WORDS, STATE_WORDS } from '../dist/src/parser/contract.js';
import { createJsParser } from '../dist/src/parser/js-parser.js';
import { createNativeParser, loadNativeAddon } from '../dist/src/parser/native.js';

const budgetMs = Number(process.argv[2] ?? 2000);
const loaded = loadNativeAddon();
if ('error' in loaded) {
  console.error(loaded.error.message);
  process.exit(1);
}

let seed = 0x2545f491;
const rand = (n) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const pad = (v, n) => String(v).padStart(n, '0');

function small(i) {
  const syms = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT'];
  return (
    `{"id":"ord-${pad(i, 10)}","ts":"2024-03-${pad(1 + rand(28), 2)}T${pad(rand(24), 2)}:${pad(rand(60), 2)}:${pad(rand(60), 2)}.${pad(rand(1000), 3)}Z",` +
    `"sym":"${syms[rand(5)]}","side":"${rand(2) ? 'buy' : 'sell'}","px":${rand(100000)}.${pad(rand(100), 2)},"qty":${rand(100)}.${pad(rand(10000), 4)},` +
    `"venue":"XNAS","acct":"ACC-${pad(rand(1000000), 6)}","type":"limit","tif":"GTC","flags":["post","hidden"],` +
    `"meta":{"src":"fix-gw-${rand(8)}","seq":${rand(2 ** 30) * 1024},"note":"ok"},"v":3}`
  );
}

function wide(i) {
  let s = `{"id":"w-${pad(i, 10)}","ts":${1_700_000_000_000 + rand(2 ** 30)},`;
  for (let f = 0; f < 70; f++) {
    if (f % 4 === 0) s += `"num_${f}":${rand(2 ** 30)}.${rand(1000)},`;
    else if (f % 4 === 1) s += `"str_${f}":"value-${rand(2 ** 20)}-abcdef",`;
    else if (f % 4 === 2) s += `"bool_${f}":${rand(2) === 0},`;
    else s += `"arr_${f}":[${rand(100)},${rand(100)},${rand(100)}],`;
  }
  return s + '"end":null}';
}

function str(i) {
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'caf\u00e9', '\\"quoted\\"', 'na\u00efve', '\\n'];
  let body = '';
  while (body.length < 49_000) body += words[rand(words.length)] + ' ';
  return `{"id":"s-${pad(i, 10)}","ts":"2024-03-01T00:00:00Z","kind":"blob","text":"${body}","tail":1}`;
}

const config = compileParseConfig({ keyFields: ['id'], eventTimeField: 'ts', maxRecordBytes: 1 << 20 });
const parsers = [
  ['js', createJsParser(config)],
  ['native', createNativeParser(loaded.addon, config)],
];

function run(parser, input, records) {
  const out = new Int32Array(new SharedArrayBuffer((records + 1) * SLOT_WORDS * 4));
  const state = new Float64Array(STATE_WORDS);
  const req = { input, start: 0, end: input.length, framing: Framing.Lines, final: true, carryPhase: 0 };
  parser.parseChunk(req, out, state);
  if (state[2] !== records || state[0] !== input.length) throw new Error(`bad parse: ${state}`);
  let best = Infinity;
  const until = performance.now() + budgetMs;
  while (performance.now() < until) {
    const t = performance.now();
    parser.parseChunk(req, out, state);
    best = Math.min(best, performance.now() - t);
  }
  return input.length / (best / 1000) / 1e6;
}

console.log('shape  avg_bytes     js MB/s  native MB/s  speedup');
for (const [name, gen, count] of [
  ['small', small, 20_000],
  ['wide', wide, 3_000],
  ['str', str, 120],
]) {
  const text = Array.from({ length: count }, (_, i) => gen(i)).join('\n') + '\n';
  const bytes = Buffer.from(text);
  const input = new Uint8Array(new SharedArrayBuffer(bytes.length));
  input.set(bytes);
  const [js, native] = parsers.map(([, p]) => run(p, input, count));
  console.log(
    `${name.padEnd(6)} ${String(Math.round(bytes.length / count)).padStart(9)}  ${js.toFixed(0).padStart(10)}  ${native.toFixed(0).padStart(11)}  ${(native / js).toFixed(2).padStart(7)}x`,
  );
}
