import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { createLatencyHistogram } from '../dist/src/metrics/histograms.js';
import { IntervalPercentiles, summarizeMicros } from '../dist/src/metrics/percentiles.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
}

const jsHistogram = (): hdr.Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });

describe('interval percentiles', () => {
  for (const [kind, make] of [
    ['plain JS', jsHistogram],
    ['engine (WASM where it loads)', createLatencyHistogram],
  ] as const) {
    it(`match HDR's own percentiles of just the new values (${kind} histogram)`, () => {
      const rnd = lcg(7);
      const cumulative = make();
      const interval = new IntervalPercentiles();
      // Intervals of growing spread, so later ones resize the counts array.
      for (let round = 1; round <= 6; round++) {
        const fresh = jsHistogram();
        const n = 1 + Math.floor(rnd() * 5000);
        for (let i = 0; i < n; i++) {
          const v = 1 + Math.floor(rnd() ** 3 * 10 ** (2 + round));
          cumulative.recordValue(v);
          fresh.recordValue(v);
        }
        expect(interval.next(cumulative), `interval ${round}`).toEqual(summarizeMicros(fresh));
      }
      expect(interval.next(cumulative)).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
      // A reset histogram starts over.
      cumulative.reset();
      cumulative.recordValueWithCount(2500, 3);
      expect(interval.next(cumulative)).toMatchObject({ count: 3, p50: 2.501, max: 2.501 });
    });
  }
});
