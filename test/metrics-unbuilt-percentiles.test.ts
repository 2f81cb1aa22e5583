import { describe, expect, it } from 'vitest';
import { buildWhenUsed, createLatencyHistogram, createLazyLatencyHistogram, destroyLatencyHistogram, unbuiltValues } from '../dist/src/metrics/histograms.js';
import { summarizeMicros, summarizeValues } from '../dist/src/metrics/percentiles.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
}

/** Latencies in µs as the engine records them: mostly small, some up to an hour, integers ≥ 1. */
function values(seed: number, n: number): number[][] {
  const rand = lcg(seed);
  return Array.from({ length: n }, () => [Math.max(1, Math.round(Math.exp(rand() * Math.log(3_600_000_000)))), 1 + Math.floor(rand() * (rand() < 0.2 ? 1000 : 3))]);
}

describe('percentiles of a histogram that was never built', () => {
  // The default histogram is the WebAssembly one where it loads (as in the engine).
  for (const webAssembly of [false, undefined]) {
    it(`summarizeValues reports what hdr-histogram-js reports (${webAssembly === false ? 'JS' : 'default'} histogram)`, () => {
      for (const [seed, n] of [[1, 1], [2, 2], [3, 7], [4, 100], [5, 1000], [6, 4000]] as const) {
        const pairs = values(seed, n);
        const h = createLatencyHistogram(webAssembly);
        for (const [v, c] of pairs) h.recordValueWithCount(v!, c!);
        expect({ seed, ...summarizeValues(pairs.flat()) }).toEqual({ seed, ...summarizeMicros(h) });
        h.destroy();
      }
    });
  }

  it('a lazy histogram is summarized from its values and stays unbuilt; once built, from the histogram', () => {
    const lazy = createLazyLatencyHistogram();
    const real = createLatencyHistogram(false);
    for (const [v, c] of values(7, 50)) {
      lazy.recordValueWithCount(v!, c!);
      real.recordValueWithCount(v!, c!);
    }
    lazy.recordValue(2049);
    real.recordValue(2049);
    expect(summarizeMicros(lazy)).toEqual(summarizeMicros(real));
    expect(unbuiltValues(lazy)).toHaveLength(102);
    // Any other use builds it.
    expect(lazy.totalCount).toBe(real.totalCount);
    expect(unbuiltValues(lazy)).toBeUndefined();
    expect(summarizeMicros(lazy)).toEqual(summarizeMicros(real));
    destroyLatencyHistogram(lazy);
    real.destroy();
  });

  it('a lazy histogram is built a second after it is made, unless it is to be built when used (a --once run)', async () => {
    const timed = createLazyLatencyHistogram();
    const held = createLazyLatencyHistogram();
    buildWhenUsed(held);
    timed.recordValueWithCount(120, 3);
    held.recordValueWithCount(120, 3);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(unbuiltValues(timed)).toBeUndefined();
    expect(unbuiltValues(held)).toEqual([120, 3]);
    // Still built when it fills up (4096 pairs), and every value kept.
    for (let i = 1; i <= 4096; i++) held.recordValue(i);
    expect(unbuiltValues(held)).toBeUndefined();
    expect(held.totalCount).toBe(3 + 4096);
    destroyLatencyHistogram(timed);
    destroyLatencyHistogram(held);
  });

  it('an empty lazy histogram reports zeros', () => {
    const lazy = createLazyLatencyHistogram();
    expect(summarizeMicros(lazy)).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    expect(unbuiltValues(lazy)).toEqual([]);
    destroyLatencyHistogram(lazy);
  });
});
