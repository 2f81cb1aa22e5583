import type * as Hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { loadHdr, unbuiltValues } from './histograms.js';

/** Percentiles reported everywhere latency is shown, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const EMPTY: LatencySummary = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
const PERCENTILES = [50, 90, 99, 99.9, 100] as const;
const ms = (micros: number | undefined): number => Math.round(micros ?? 0) / 1000;

/**
 * Percentiles of an HDR histogram in microseconds, reported in ms. `max` is
 * the 100th percentile (the bucket's highest equivalent value), rounded like
 * the others and like the interval figures below.
 */
export function summarizeMicros(h: Histogram): LatencySummary {
  const raw = unbuiltValues(h);
  if (raw) return summarizeValues(raw);
  if (h.totalCount <= 0) return { ...EMPTY };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.getValueAtPercentile(100)),
  };
}

/**
 * summarizeMicros() of a histogram made by createLatencyHistogram() holding
 * these (value, count) pairs, computed as hdr-histogram-js does it (its
 * JsHistogram.getValueAtPercentile: the count at q% rounded up less one ulp,
 * then the highest value equivalent to the first value reaching it), for
 * that histogram's layout: lowest discernible value 1, 3 significant digits,
 * so values below 2048 are exact and each power of two above halves the
 * resolution. Sorting the values replaces walking the counts array: a
 * value's bucket index grows with the value.
 */
export function summarizeValues(pairs: readonly number[]): LatencySummary {
  const n = pairs.length >> 1;
  let total = 0;
  let largest = 0;
  let integral = true;
  for (let k = 0; k < n; k++) {
    const value = pairs[2 * k]!;
    total += pairs[2 * k + 1]!;
    if (value > largest) largest = value;
    if (!Number.isInteger(value) || value < 0) integral = false;
  }
  if (total <= 0) return { ...EMPTY };
  const order = pairOrder(pairs, n, integral ? largest : Number.POSITIVE_INFINITY);
  const wanted = PERCENTILES.map((q) => {
    const fp = (q / 100) * total;
    return Math.max(Math.ceil(fp - ulp(fp)), 1);
  });
  // All five in one pass over the values in order.
  const found: number[] = [];
  let running = 0;
  for (let j = 0; j < n && found.length < wanted.length; j++) {
    const k = order(j);
    running += pairs[2 * k + 1]!;
    while (found.length < wanted.length && running >= wanted[found.length]!) found.push(highestEquivalentValue(pairs[2 * k]!));
  }
  return { count: total, p50: ms(found[0]), p90: ms(found[1]), p99: ms(found[2]), p999: ms(found[3]), max: ms(found[4]) };
}

/**
 * The pairs' indices by value: value × n + index sorted as numbers (a typed
 * array's own sort, no comparator called per comparison) while the values are
 * whole and that stays an exact integer (`largest` is infinite otherwise);
 * else a comparator sort.
 */
function pairOrder(pairs: readonly number[], n: number, largest: number): (j: number) => number {
  if ((largest + 1) * n < Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(n);
    for (let k = 0; k < n; k++) keys[k] = pairs[2 * k]! * n + k;
    keys.sort();
    return (j) => keys[j]! % n;
  }
  const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => pairs[2 * a]! - pairs[2 * b]!);
  return (j) => order[j]!;
}

/** hdr-histogram-js's ulp(). */
const ulp = (x: number): number => Math.pow(2, Math.floor(Math.log2(x)) - 52);

/** Sub-buckets per bucket at 3 significant digits: values below it are their own bucket. */
const SUB_BUCKET_HALF_COUNT_MAGNITUDE = 10;

/** The highest value that shares `value`'s bucket (lowest discernible value 1, 3 significant digits). */
function highestEquivalentValue(value: number): number {
  const bucket = Math.max(Math.floor(Math.log2(value)) - SUB_BUCKET_HALF_COUNT_MAGNITUDE, 0);
  const step = Math.pow(2, bucket);
  return Math.floor(value / step) * step + step - 1;
}

/**
 * Percentiles of what one histogram gained since the previous call: keeps the
 * previous counts array and walks the current one once, finding every
 * percentile in that single pass (no copy-and-subtract of whole histograms).
 * HDR's own rule is used: the value at percentile q is the highest equivalent
 * value of the first bucket where the running count reaches ceil(q% × total).
 * Index i means the same value range in every copy: the layout depends only on
 * the lowest value and the significant digits, and resizing only appends.
 */
export class IntervalPercentiles {
  private previous = new Float64Array(0);
  private previousTotal = 0;

  next(h: Histogram): LatencySummary {
    if (h.totalCount === this.previousTotal) return { ...EMPTY };
    const view = countsView(h);
    const total = view.totalCount;
    // A histogram that shrank was reset: everything in it is new.
    const reset = total < this.previousTotal;
    const before = reset ? new Float64Array(0) : this.previous;
    const gained = reset ? total : total - this.previousTotal;
    // The small epsilon keeps float error in q% × total from skipping a count.
    const targets = PERCENTILES.map((q) => Math.max(1, Math.ceil((q / 100) * gained - 1e-9)));
    const found: number[] = [];
    const counts = new Float64Array(view.countsArrayLength);
    let running = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = view.getCountAtIndex(i);
      counts[i] = c;
      const added = c - (before[i] ?? 0);
      if (added <= 0) continue;
      running += added;
      while (found.length < targets.length && running >= targets[found.length]!) {
        found.push(view.highestEquivalentValue(view.valueFromIndex(i)));
      }
    }
    this.previous = counts;
    this.previousTotal = total;
    return { count: gained, p50: ms(found[0]), p90: ms(found[1]), p99: ms(found[2]), p999: ms(found[3]), max: ms(found[4]) };
  }
}

/** JsHistogram.decode is attached at run time by hdr-histogram-js's encoding module; its d.ts does not reach it. */
interface JsDecoder {
  decode(data: Uint8Array): Hdr.JsHistogram;
}

/** A plain-JS histogram with the same counts, whatever the implementation. */
function countsView(h: Histogram): Hdr.JsHistogram {
  const hdr = loadHdr();
  if (h instanceof hdr.JsHistogram) return h;
  // WASM counts live in WASM memory: one uncompressed encode/decode (no deflate).
  if (h instanceof hdr.WasmHistogram) return (hdr.JsHistogram as unknown as JsDecoder).decode(h.encode());
  return hdr.decodeFromCompressedBase64(hdr.encodeIntoCompressedBase64(h), 32, false) as Hdr.JsHistogram;
}
