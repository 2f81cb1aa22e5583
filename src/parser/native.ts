/**
 * Loader and ChunkParser wrapper for the Rust addon (native/, built by
 * scripts/build-native.mjs at install time).
 *
 * Nothing here throws at import time: loading is attempted only when asked,
 * every candidate path's failure is collected, and the caller gets either a
 * parser or ONE Error whose `cause` (an AggregateError) holds one Error per
 * attempt, each with the original load error as its own `cause`.
 *
 * Environment:
 *   ORDERTAIL_NATIVE=0         never load the addon (an error explains why)
 *   ORDERTAIL_NATIVE_PATH=file load exactly this .node file, no other candidate
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Framing, STATE_CONSUMED_END, STATE_SLOTS, STATE_WORDS, Status, SLOT_WORDS, W_STATUS } from './contract.js';
import type { ChunkParser, ChunkRequest, ParseConfig } from './contract.js';

/** The compiled configuration plus scratch memory, one per worker. */
export interface NativeParserConfigHandle {
  readonly __nativeParserConfig?: never;
}

/** What the addon exports (see native/src/glue.rs). */
export interface NativeAddon {
  NativeParserConfig: new (
    keyFields: Uint8Array[],
    eventTimeField: Uint8Array,
    maxRecordBytes: number,
    mode?: number | null,
    markLfFollows?: boolean | null,
  ) => NativeParserConfigHandle;
  parseChunk(
    config: NativeParserConfigHandle,
    input: Uint8Array,
    start: number,
    end: number,
    framing: number,
    isFinal: boolean,
    carryPhase: number,
    out: Int32Array,
    state: Float64Array,
  ): void;
}

export type LoadResult<T> = T | { error: Error };

/** napi-rs platform suffix(es) for this process, most likely first. */
function platformSuffixes(): string[] {
  const { platform, arch } = process;
  if (platform === 'linux') {
    let musl = false;
    try {
      musl = !(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
        ?.glibcVersionRuntime;
    } catch {
      musl = existsSync('/etc/alpine-release');
    }
    const libcs = musl ? ['musl', 'gnu'] : ['gnu', 'musl'];
    return libcs.map((libc) => `${platform}-${arch}-${libc}`);
  }
  if (platform === 'win32') return [`${platform}-${arch}-msvc`, `${platform}-${arch}-gnu`];
  if (platform === 'darwin') return [`${platform}-${arch}`, `${platform}-universal`];
  return [`${platform}-${arch}`];
}

/** dist/src/parser/native.js → <package root>/native/ */
function nativeDir(): string {
  return fileURLToPath(new URL('../../../native/', import.meta.url));
}

/** Where the addon may be, in the order tried. */
export function nativeCandidatePaths(): string[] {
  const forced = process.env.ORDERTAIL_NATIVE_PATH;
  if (forced) return [forced];
  const dir = nativeDir();
  return [...platformSuffixes().map((s) => `${dir}ordertail.${s}.node`), `${dir}ordertail.node`];
}

/**
 * The candidates that exist, in the order nativeCandidatePaths() gives, found
 * without asking which libc this is: on Linux that takes process.report
 * (slow, and paid again in every worker thread: measured by hand, figures in
 * bench/RESULTS.md), and the gnu/musl order only
 * decides anything when both builds are present. Undefined when it does (or
 * off Linux, where no probe is needed): use nativeCandidatePaths().
 */
function presentCandidatesWithoutLibcProbe(): string[] | undefined {
  const { platform, arch } = process;
  if (process.env.ORDERTAIL_NATIVE_PATH || platform !== 'linux') return undefined;
  const dir = nativeDir();
  const present = ['gnu', 'musl'].map((libc) => `${dir}ordertail.${platform}-${arch}-${libc}.node`).filter((path) => existsSync(path));
  if (present.length > 1) return undefined;
  return [...present, `${dir}ordertail.node`];
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function isAddon(m: unknown): m is NativeAddon {
  const a = m as Partial<NativeAddon> | null;
  return !!a && typeof a.NativeParserConfig === 'function' && typeof a.parseChunk === 'function';
}

let cached: LoadResult<{ addon: NativeAddon }> | undefined;
let cachedKey: string | undefined;

/** Loads the addon (once per process and environment); never throws. */
export function loadNativeAddon(): LoadResult<{ addon: NativeAddon }> {
  const key = `${process.env.ORDERTAIL_NATIVE ?? ''}\0${process.env.ORDERTAIL_NATIVE_PATH ?? ''}`;
  if (cached && cachedKey === key) return cached;
  cachedKey = key;
  cached = tryLoad();
  return cached;
}

function tryLoad(): LoadResult<{ addon: NativeAddon }> {
  if (process.env.ORDERTAIL_NATIVE === '0') {
    return { error: new Error('native parser disabled by ORDERTAIL_NATIVE=0') };
  }
  const require = createRequire(import.meta.url);
  const failed = new Map<string, Error>();
  const quick = presentCandidatesWithoutLibcProbe();
  for (const path of quick ?? nativeCandidatePaths()) {
    if (!existsSync(path)) {
      failed.set(path, new Error(`${path}: not found`));
      continue;
    }
    try {
      const mod: unknown = require(path);
      if (!isAddon(mod)) throw new TypeError('module does not export NativeParserConfig and parseChunk');
      selfTest(mod);
      return { addon: mod };
    } catch (e) {
      const cause = asError(e);
      failed.set(path, new Error(`${path}: ${cause.message}`, { cause }));
    }
  }
  // Every candidate failed: report each in the documented order (the paths
  // the quick walk skipped were not present).
  const failures = (quick ? nativeCandidatePaths() : [...failed.keys()]).map((path) => failed.get(path) ?? new Error(`${path}: not found`));
  const summary = failures.map((f) => f.message).join('; ');
  return {
    error: new Error(`ordertail native parser could not be loaded (${summary})`, {
      cause: new AggregateError(failures, 'every candidate path failed'),
    }),
  };
}

/** One tiny chunk through the addon: a loadable but broken build fails here, not mid-stream. */
function selfTest(addon: NativeAddon): void {
  const enc = new TextEncoder();
  const cfg = new addon.NativeParserConfig([enc.encode('id')], enc.encode('t'), 1024);
  const input = enc.encode('{"id":1,"t":2}\n[1]\n');
  const out = new Int32Array(2 * SLOT_WORDS);
  const state = new Float64Array(STATE_WORDS);
  addon.parseChunk(cfg, input, 0, input.length, Framing.Lines, true, 0, out, state);
  if (
    state[STATE_SLOTS] !== 2 ||
    state[STATE_CONSUMED_END] !== input.length ||
    out[W_STATUS] !== Status.KEYED ||
    out[SLOT_WORDS + W_STATUS] !== Status.NOT_OBJECT
  ) {
    throw new Error('addon self-test produced unexpected slots');
  }
}

/**
 * Which validator the addon runs first (tests and benchmarks; production uses
 * 'auto'): 'auto' = simd-json for long string-heavy records and the scanner
 * for the rest, 'simd-json' = simd-json first for every record, 'scanner' =
 * the scanner only.
 */
export type NativeMode = 'auto' | 'simd-json' | 'scanner';
const MODE_CODE: Record<NativeMode, number> = { auto: 0, 'simd-json': 1, scanner: 2 };

/** A ChunkParser over an already loaded addon: one addon call per parseChunk. */
export function createNativeParser(addon: NativeAddon, config: ParseConfig, opts: { mode?: NativeMode; markLfFollows?: boolean } = {}): ChunkParser {
  const markLfFollows = opts.markLfFollows ?? false;
  const handle = new addon.NativeParserConfig(
    config.keyFields.map((k) => Uint8Array.from(k)),
    Uint8Array.from(config.eventTimeField),
    config.maxRecordBytes,
    MODE_CODE[opts.mode ?? 'auto'],
    markLfFollows,
  );
  const parse = addon.parseChunk;
  return {
    name: 'native',
    marksLfFollows: markLfFollows,
    parseChunk(req: ChunkRequest, out: Int32Array, state: Float64Array): void {
      const { input, start, end } = req;
      // Same argument check (and error type) as the JS parser.
      if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= input.length)) {
        throw new RangeError(
          `parseChunk: need 0 <= start <= end <= input.length, got start=${start} end=${end} length=${input.length}`,
        );
      }
      if (req.framing !== Framing.Lines && req.framing !== Framing.Single && req.framing !== Framing.Array) {
        throw new RangeError(`parseChunk: unknown framing ${String(req.framing)}`);
      }
      parse(handle, input, start, end, req.framing, req.final, req.carryPhase, out, state);
    },
  };
}

/** Loads the addon and binds it to `config`; never throws. */
export function loadNativeParser(config: ParseConfig, opts: { markLfFollows?: boolean } = {}): LoadResult<{ parser: ChunkParser }> {
  const r = loadNativeAddon();
  if ('error' in r) return r;
  try {
    return { parser: createNativeParser(r.addon, config, opts) };
  } catch (e) {
    return { error: new Error(`ordertail native parser rejected its configuration: ${asError(e).message}`, { cause: e }) };
  }
}

