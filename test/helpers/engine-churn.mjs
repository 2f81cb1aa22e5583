/**
 * Creates, runs and stops ENGINES engines one after another in this process
 * (run with --expose-gc), each reading a small file through records() and
 * reading its stats (which builds its latency histograms), and prints what
 * the process holds after WARMUP engines and after all of them: heap,
 * external and ArrayBuffer memory (WebAssembly histograms live there), RSS,
 * and active handles. Small dedup tables and ranges: the test is about what
 * an engine leaves behind, not about allocating 90 MB per engine.
 * For test/library-leak.test.ts.
 *
 *   node --expose-gc engine-churn.mjs DIR ENGINES WARMUP
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Engine } from '../../dist/src/index.js';

const [dir, enginesArg, warmupArg] = process.argv.slice(2);
const engines = Number(enginesArg);
const warmup = Number(warmupArg);
const input = join(dir, 'in.ndjson');
writeFileSync(input, Array.from({ length: 200 }, (_, i) => `{"id":${i},"timestamp":${1_700_000_000_000 + i}}`).join('\n') + '\n');

/** OS threads of this process (worker threads included). */
function threads() {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

async function sample() {
  // Let closed handles' callbacks run before collecting and counting.
  await sleep(50);
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(10);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss, handles: process.getActiveResourcesInfo().length, threads: threads() };
}

let before;
for (let i = 0; i < engines; i++) {
  const engine = new Engine({ input, once: true, workers: 1, dedupCapacity: 1 << 16, rangeBytes: 65_536 });
  const records = engine.records();
  await engine.start();
  let n = 0;
  const loop = (async () => {
    for await (const _ of records) n++;
  })();
  await engine.finished();
  engine.stats();
  await engine.stop();
  await loop;
  if (n !== 200) throw new Error(`engine ${i}: ${n} records`);
  if (i + 1 === warmup) before = await sample();
}
const after = await sample();
process.stdout.write(JSON.stringify({ before, after }) + '\n');
