import { createRequire } from 'node:module';
import type * as Hdr from 'hdr-histogram-js';

/**
 * HDR histograms for latencies in microseconds: 1 µs to 1 h at 3 significant
 * digits. WebAssembly-backed where it loads (less GC pressure in long runs),
 * plain JS otherwise; both merge with each other.
 *
 * hdr-histogram-js (and its WebAssembly set-up) is loaded on first use, not at
 * import: parse workers import this module but, in a short run, never build a
 * histogram (see DeferredLatencyHistogram), and their start-up is on the
 * critical path of every run.
 */
/** What the engine uses of hdr-histogram-js. */
export type HdrParts = Pick<
  typeof Hdr,
  'build' | 'initWebAssembly' | 'initWebAssemblySync' | 'encodeIntoCompressedBase64' | 'decodeFromCompressedBase64' | 'JsHistogram' | 'WasmHistogram'
>;

let hdrModule: HdrParts | undefined;

/**
 * hdr-histogram-js's parts, loaded on first call from its own modules (the
 * same CommonJS instances its index re-exports). Not through its index: that
 * also loads the log reader and writer, and the writer makes an
 * Intl.NumberFormat as it loads, which costs a follower's start-up 20 ms of
 * ICU set-up on the main thread (bench/RESULTS.md, 2026-12-04, "a
 * follower's start-up").
 */
export function loadHdr(): HdrParts {
  if (!hdrModule) {
    const require = createRequire(import.meta.url);
    const part = (module: string): HdrParts => require(`hdr-histogram-js/dist/${module}`) as HdrParts;
    const { build } = part('HistogramBuilder');
    const { initWebAssembly, initWebAssemblySync, WasmHistogram } = part('wasm');
    // Also attaches JsHistogram.decode (percentiles.ts).
    const { encodeIntoCompressedBase64, decodeFromCompressedBase64 } = part('encoding');
    const { JsHistogram } = part('JsHistogram');
    hdrModule = {
      build,
      initWebAssembly: () => withNodeDecoders(require, initWebAssembly),
      initWebAssemblySync: () => withNodeDecoders(require, initWebAssemblySync),
      encodeIntoCompressedBase64,
      decodeFromCompressedBase64,
      JsHistogram,
      WasmHistogram,
    };
  }
  return hdrModule;
}

interface WasmDecoders {
  pako: { inflate(data: Uint8Array): Uint8Array };
  base64: { toByteArray(text: string): Uint8Array };
}

/**
 * hdr-histogram-js sets its WebAssembly up from a deflated base64 copy, as
 * `pako.inflate(base64.toByteArray(BINARY))`: JavaScript run once, cold, on
 * the thread that builds the first histogram (about half of the set-up, on a
 * follower's main thread before `ready`; bench/RESULTS.md, 2026-12-05).
 * Node's zlib and base64 decoders give the same bytes natively. For the synchronous call
 * that decodes (the rest of the set-up is the compile, awaited after it), the
 * two functions that module calls are Node's, and are put back before any
 * other code can run; hdr-histogram-js's own encoding already uses zlib in
 * Node. Where its modules cannot be found as laid out here, nothing is swapped.
 */
function withNodeDecoders<T>(require: NodeJS.Require, init: () => T): T {
  let decoders: WasmDecoders;
  try {
    const fromWasmModule = createRequire(require.resolve('hdr-histogram-js/dist/wasm/index.js'));
    decoders = { pako: fromWasmModule('pako') as WasmDecoders['pako'], base64: fromWasmModule('base64-js') as WasmDecoders['base64'] };
  } catch {
    return init();
  }
  const { pako, base64 } = decoders;
  const { inflate } = pako;
  const { toByteArray } = base64;
  const { inflateSync } = require('node:zlib') as typeof import('node:zlib');
  pako.inflate = (data) => inflateSync(data);
  base64.toByteArray = (text) => Buffer.from(text, 'base64');
  try {
    return init();
  } finally {
    pako.inflate = inflate;
    base64.toByteArray = toByteArray;
  }
}

let wasm: boolean | undefined;

function wasmAvailable(): boolean {
  if (wasm === undefined) {
    try {
      loadHdr().initWebAssemblySync();
      wasm = true;
    } catch {
      wasm = false;
    }
  }
  return wasm;
}

export function createLatencyHistogram(webAssembly = wasmAvailable()): Hdr.Histogram {
  return loadHdr().build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: webAssembly,
  });
}

/** Values a lazy histogram holds before it builds itself. */
const LAZY_VALUES_LIMIT = 4096;
/** A long-running process builds its lazy histograms this long after the first was made. */
const LAZY_BUILD_AFTER_MS = 1000;
const unbuilt = new Set<() => void>();
let buildTimer: NodeJS.Timeout | undefined;

function buildAllLazy(): void {
  clearTimeout(buildTimer);
  buildTimer = undefined;
  for (const build of [...unbuilt]) build();
}

/** Set while prepareLatencyHistograms() compiles: the lazy build waits for it instead of compiling synchronously. */
let preparing: Promise<void> | undefined;

let processOwned = false;

/**
 * The CLI owns its process: nothing else in it can be using the global
 * `Response` while the histograms' WebAssembly compiles at start-up, so
 * prepareLatencyHistograms() may set that global aside meanwhile (see
 * initWebAssemblyAsync). An engine embedded in a service never does.
 */
export function ownProcessGlobals(): void {
  processOwned = true;
}

/**
 * hdr-histogram-js's loader asks `typeof Response` before it compiles, and in
 * Node that global is a lazy getter that loads the whole fetch implementation
 * (undici): tens of milliseconds of a follower's start-up on the main thread,
 * for a check that is false here (the module is given as bytes). When the
 * process is ours and nothing has touched the getter yet, it is set aside
 * until the compile ends, and put back as it was.
 */
async function initWebAssemblyAsync(): Promise<void> {
  const descriptor = processOwned ? Object.getOwnPropertyDescriptor(globalThis, 'Response') : undefined;
  const setAside = descriptor?.get !== undefined && descriptor.configurable === true;
  if (setAside) Object.defineProperty(globalThis, 'Response', { value: undefined, configurable: true, writable: true, enumerable: false });
  try {
    await loadHdr().initWebAssembly();
  } finally {
    if (setAside) Object.defineProperty(globalThis, 'Response', descriptor);
  }
}

/**
 * Build the lazy histograms as soon as the WebAssembly, compiled off this
 * thread, is ready. For a follower at start-up: built by the timer instead,
 * the synchronous load and compile would stall the main thread, and with it
 * the live lane, for tens of milliseconds about a second into the run.
 * Loading the module itself is synchronous (start-up pays it). Never rejects.
 */
export function prepareLatencyHistograms(): Promise<void> {
  clearTimeout(buildTimer);
  buildTimer = undefined;
  preparing ??= (async () => {
    if (wasm === undefined) {
      try {
        await initWebAssemblyAsync();
        wasm = true;
      } catch {
        wasm = false;
      }
    }
    buildAllLazy();
  })();
  return preparing;
}

/**
 * createLatencyHistogram() for the engine's own histograms, without its
 * start-up cost (loading hdr-histogram-js and initialising its WebAssembly
 * are a large part of a short run's start-up: measured by hand, figures in
 * bench/RESULTS.md) until the histogram is needed.
 * recordValue() and recordValueWithCount() are kept (in order) until any
 * other use of the histogram, LAZY_VALUES_LIMIT values, or
 * LAZY_BUILD_AFTER_MS after the first lazy histogram was made (so a long run
 * pays that cost near its start, as it always did, not at some later moment);
 * then the histogram is built, the values are recorded into it, and every use
 * goes to it. A run that ends sooner and never reads its histograms never
 * loads hdr-histogram-js on this thread.
 */
export function createLazyLatencyHistogram(): Hdr.Histogram {
  let real: Hdr.Histogram | undefined;
  // value, count pairs; count NaN: recorded with recordValue().
  let pending: number[] = [];
  // Histograms shipped by workers (mergeShipped), merged when built.
  let shipments: ShippedHistogram[] = [];
  let shippedValues = 0;
  let destroyed = false;
  // The built histogram's two recording methods, bound once: they are what the
  // hot path asks the proxy for, several times per range.
  let realRecordValue: Hdr.Histogram['recordValue'] | undefined;
  let realRecordValueWithCount: Hdr.Histogram['recordValueWithCount'] | undefined;
  const build = (): Hdr.Histogram => {
    if (!real) {
      unbuilt.delete(build);
      // Used after destroyLatencyHistogram(): a plain JS histogram, which the GC frees.
      const h = createLatencyHistogram(destroyed ? false : undefined);
      real = h;
      realRecordValue = h.recordValue.bind(h);
      realRecordValueWithCount = h.recordValueWithCount.bind(h);
      const values = pending;
      pending = [];
      for (let i = 0; i < values.length; i += 2) {
        const count = values[i + 1]!;
        if (Number.isNaN(count)) h.recordValue(values[i]!);
        else h.recordValueWithCount(values[i]!, count);
      }
      const shipped = shipments;
      shipments = [];
      shippedValues = 0;
      for (const one of shipped) mergeEncoded(h, one);
    }
    return real;
  };
  // Raw values count against the limit like recorded ones; an encoded
  // histogram (a busy worker) builds this one now.
  const takeShipment = (shipped: ShippedHistogram): boolean => {
    if (real || typeof shipped === 'string' || pending.length / 2 + shippedValues + shipped.length > LAZY_VALUES_LIMIT) return false;
    shipments.push(shipped);
    shippedValues += shipped.length;
    return true;
  };
  unbuilt.add(build);
  if (!buildTimer && !preparing) {
    buildTimer = setTimeout(buildAllLazy, LAZY_BUILD_AFTER_MS);
    buildTimer.unref();
  }
  const keep = (value: number, count: number): void => {
    if (real || !(value >= 0) || pending.length / 2 + shippedValues >= LAZY_VALUES_LIMIT) {
      // Built, or a value to reject where it is recorded (negative, NaN), or full.
      if (Number.isNaN(count)) build().recordValue(value);
      else build().recordValueWithCount(value, count);
      return;
    }
    pending.push(value, count);
  };
  const recordValue = (value: number): void => keep(value, Number.NaN);
  const recordValueWithCount = (value: number, count: number): void => keep(value, count);
  // Methods of the built histogram, bound to it (the proxy is never their `this`).
  const bound = new WeakMap<object, unknown>();
  const proxy = new Proxy({} as Hdr.Histogram, {
    get(_, prop) {
      if (prop === 'recordValueWithCount') return real ? realRecordValueWithCount : recordValueWithCount;
      if (prop === 'recordValue') return real ? realRecordValue : recordValue;
      const h = build();
      const value: unknown = Reflect.get(h, prop, h);
      if (typeof value !== 'function') return value;
      let method = bound.get(value);
      if (!method) bound.set(value, (method = (value as (...args: unknown[]) => unknown).bind(h)));
      return method;
    },
    set: (_, prop, value) => Reflect.set(build(), prop, value),
    has: (_, prop) => Reflect.has(build(), prop),
    ownKeys: () => Reflect.ownKeys(build()),
    getOwnPropertyDescriptor(_, prop) {
      const descriptor = Reflect.getOwnPropertyDescriptor(build(), prop);
      // The (empty) proxy target has no such property: report it as configurable.
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(build()),
  });
  lazyShipments.set(proxy, takeShipment);
  lazyValues.set(proxy, () => {
    if (real || destroyed) return undefined;
    const pairs = pending.map((x, i) => (i % 2 === 1 && Number.isNaN(x) ? 1 : x));
    for (const values of shipments) for (const v of values as Float64Array) pairs.push(v, 1);
    return pairs;
  });
  lazyDeferrals.set(proxy, () => {
    unbuilt.delete(build);
    if (unbuilt.size === 0) {
      clearTimeout(buildTimer);
      buildTimer = undefined;
    }
  });
  lazyDestroyers.set(proxy, () => {
    destroyed = true;
    unbuilt.delete(build);
    pending = [];
    shipments = [];
    shippedValues = 0;
    real?.destroy();
    real = undefined;
  });
  return proxy;
}

const lazyDestroyers = new WeakMap<Hdr.Histogram, () => void>();

/** Lazy histogram → takes it out of the timed build. */
const lazyDeferrals = new WeakMap<Hdr.Histogram, () => void>();

/**
 * A lazy histogram that is built only when it fills up or is read, never by
 * the timer (LAZY_BUILD_AFTER_MS) or prepareLatencyHistograms(). For a
 * `--once` run: the timer exists so a follower pays for hdr-histogram-js near
 * its start rather than stalling its live lane later, and a replay has no
 * live lane; one that ends within a few thousand ranges then never loads the
 * module or compiles its WebAssembly (base64 decode and inflate in JS, then
 * the compile: CPU the parse threads want). No effect on other histograms.
 */
export function buildWhenUsed(h: Hdr.Histogram): void {
  lazyDeferrals.get(h)?.();
}

/** Lazy histogram → what it holds while not built: (value, count) pairs, else undefined. */
const lazyValues = new WeakMap<Hdr.Histogram, () => number[] | undefined>();

/**
 * The (value, count) pairs recorded into a lazy histogram that was never
 * built, or undefined: a short run reports their percentiles from these
 * (percentiles.ts) instead of loading hdr-histogram-js and its WebAssembly
 * at exit just to read a few values back.
 */
export function unbuiltValues(h: Hdr.Histogram): number[] | undefined {
  return lazyValues.get(h)?.();
}

/**
 * Frees a histogram's WebAssembly memory, which the GC never reclaims: an
 * engine calls this for each of its histograms when it stops (a process that
 * creates many engines otherwise grows with every engine: measured by hand,
 * figures in bench/RESULTS.md). A lazy one that
 * was never built is just dropped, and no longer built by the timer.
 */
export function destroyLatencyHistogram(h: Hdr.Histogram): void {
  const destroyLazy = lazyDestroyers.get(h);
  if (destroyLazy) destroyLazy();
  else h.destroy();
}

/** Lazy histogram → keeps a shipment for its build (false: built, or full). */
const lazyShipments = new WeakMap<Hdr.Histogram, (shipped: ShippedHistogram) => boolean>();

/**
 * mergeEncoded() for any target; a lazy histogram that is not built yet keeps
 * a worker's raw values until it is (a short run then never loads
 * hdr-histogram-js on the main thread just to merge them).
 */
export function mergeShipped(target: Hdr.Histogram, shipped: ShippedHistogram): void {
  if (lazyShipments.get(target)?.(shipped)) return;
  mergeEncoded(target, shipped);
}

/**
 * What a worker ships to the main thread: a histogram in compact text form, or
 * (while it has recorded only a few values and never built a histogram) those
 * values themselves. mergeEncoded() takes either.
 */
export type ShippedHistogram = string | Float64Array;

/** Values a DeferredLatencyHistogram keeps before it builds a real histogram. */
const DEFERRED_VALUES_LIMIT = 8192;

/**
 * A latency histogram for a parse worker that costs nothing until it is busy:
 * it keeps its first values in a small array, and builds the HDR histogram
 * (loading hdr-histogram-js and its WebAssembly) only once more values than
 * DEFERRED_VALUES_LIMIT arrive between two shipments. Shipped as raw values
 * until then; the main thread builds the histogram the worker would have
 * shipped from them (see mergeEncoded), so what it merges is unchanged.
 */
export class DeferredLatencyHistogram {
  private values = new Float64Array(64);
  private count = 0;
  private histogram: Hdr.Histogram | undefined;

  recordValue(value: number): void {
    if (this.histogram) {
      this.histogram.recordValue(value);
      return;
    }
    if (this.count === this.values.length || !(value >= 0)) {
      // Full, or a value to reject here, where it is recorded (negative, NaN): build the histogram now.
      if (this.count >= DEFERRED_VALUES_LIMIT || !(value >= 0)) {
        const h = createLatencyHistogram();
        for (let i = 0; i < this.count; i++) h.recordValue(this.values[i]!);
        this.histogram = h;
        this.count = 0;
        h.recordValue(value);
        return;
      }
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = value;
  }

  reset(): void {
    this.count = 0;
    this.histogram?.reset();
  }

  /** The shipped form: encoded once a histogram exists, else the values recorded since the last reset. */
  ship(): ShippedHistogram {
    if (this.histogram) return encodeHistogram(this.histogram);
    return this.values.slice(0, this.count);
  }
}

/** Compact text form, for shipping a worker's histogram to the main thread. */
export function encodeHistogram(h: Hdr.Histogram): string;
export function encodeHistogram(h: Hdr.Histogram | DeferredLatencyHistogram): ShippedHistogram;
export function encodeHistogram(h: Hdr.Histogram | DeferredLatencyHistogram): ShippedHistogram {
  if (h instanceof DeferredLatencyHistogram) return h.ship();
  return loadHdr().encodeIntoCompressedBase64(h);
}

/** Add a shipped histogram (from another thread) into `target`. */
export function mergeEncoded(target: Hdr.Histogram, encoded: ShippedHistogram): void {
  if (typeof encoded !== 'string') {
    // Raw values take the path a worker-built histogram would have taken
    // (encode, decode, add): the same counts and the same maxValue (a decoded
    // histogram's is its top bucket's highest equivalent value).
    const built = createLatencyHistogram();
    for (let i = 0; i < encoded.length; i++) built.recordValue(encoded[i]!);
    const text = encodeHistogram(built);
    built.destroy();
    encoded = text;
  }
  const other = loadHdr().decodeFromCompressedBase64(encoded, 32, wasmAvailable());
  target.add(other);
  other.destroy();
}
