/**
 * An engine leaves nothing behind when it stops: 200 engines are created, run
 * and stopped one after another in one process (helpers/engine-churn.mjs, with
 * --expose-gc), and what the process holds after the last one is compared
 * with what it held after the 50th: JS heap, external and ArrayBuffer memory
 * (the WebAssembly latency histograms live outside the JS heap and are never
 * garbage-collected: ~0.5 MiB per engine when not destroyed), active handles
 * and OS threads. RSS is not compared: garbage SharedArrayBuffers freed by a
 * forced GC are not always given back to the OS by the allocator.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const churn = fileURLToPath(new URL('./helpers/engine-churn.mjs', import.meta.url));
const MiB = 1024 * 1024;

interface Sample {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  handles: number;
  threads: number;
}

describe('engine lifecycle: no leak', () => {
  it('200 engines in one process: heap, external memory, handles and threads stay flat', () => {
    const dir = workdir();
    const r = spawnSync(process.execPath, ['--expose-gc', churn, dir, '200', '50'], { encoding: 'utf8', timeout: 55_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const { before, after } = JSON.parse(r.stdout.trim()) as { before: Sample; after: Sample };
    const growth = (k: 'heapUsed' | 'external' | 'arrayBuffers'): number => (after[k] - before[k]) / MiB;
    // 150 engines: a leak of 0.05 MiB each would already show.
    expect(growth('heapUsed'), 'heap growth, MiB').toBeLessThan(8);
    expect(growth('external'), 'external memory growth, MiB').toBeLessThan(8);
    expect(growth('arrayBuffers'), 'ArrayBuffer memory growth, MiB').toBeLessThan(8);
    expect(after.handles).toBe(before.handles);
    expect(after.threads).toBe(before.threads);
  }, 60_000);
});
