/**
 * Differential test: the Rust addon against the JS reference parser. Random
 * valid and corrupted records go through both in all three framings, split
 * into random chunks (Array framing resumes via carryPhase) with random output
 * capacities; every call must produce identical slots and identical state.
 *
 * Reproduce a failure with ORDERTAIL_SEED=<seed printed in the message>.
 * Skipped only when the addon is not built; ORDERTAIL_REQUIRE_NATIVE=1 turns
 * a missing addon into a failure (CI builds it at install).
 */
import { describe, expect, it } from 'vitest';
import {
  ArrayPhase,
  Framing,
  SLOT_WORDS,
  STATE_CARRY_PHASE,
  STATE_CONSUMED_END,
  STATE_SLOTS,
  STATE_WORDS,
  Status,
  StatusFlag,
  compileParseConfig,
} from '../dist/src/parser/contract.js';
import type { ArrayPhaseCode, ChunkParser, FramingMode, ParseConfig } from '../dist/src/parser/contract.js';
import { createJsParser } from '../dist/src/parser/js-parser.js';
import { createNativeParser, loadNativeAddon } from '../dist/src/parser/native.js';
import { prng } from '../dist/src/util/prng.js';

const loaded = loadNativeAddon();
const addon = 'addon' in loaded ? loaded.addon : undefined;
const why = 'error' in loaded ? loaded.error.message : '';
if (!addon) {
  if (process.env.ORDERTAIL_REQUIRE_NATIVE === '1') throw new Error(`ORDERTAIL_REQUIRE_NATIVE=1 but ${why}`);
  console.warn(`native differential tests skipped: addon not built (${why})`);
}

const BASE_SEED = Number(process.env.ORDERTAIL_SEED ?? 20261125);


class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
}

const enc = new TextEncoder();
const NAMES = ['id', 'ts', 'sym', 'px', 'qty', 'side', 'venue', 'id', '\\u0069d', 'meta', 'seq'];
const ISO = [
  '2024-02-29T12:00:00.123+01:00',
  '2023-02-29',
  '2024-01-02t03:04:05.6789z',
  '2024-01-02 03:04',
  '2024-01-02T03:04:05-0130',
  '2024-01-02T03:04:05+05',
  '2024-01-02T24:00Z',
  '2024-01-02T03:04:60Z',
  '0000-01-01',
  '1900-02-29',
  '2024-13-01',
  '2024-01-02T03:04:05.',
  '2024-01-02T03:04:05+2400',
];

function scalar(g: Gen): string {
  switch (g.int(12)) {
    case 0:
      return String(g.int(1e9));
    case 1:
      return `-${g.int(1000)}.${g.int(1000)}e${g.pick(['', '+', '-'])}${g.int(40)}`;
    case 2:
      return g.pick(['true', 'false', 'null', '-0', '0.0', '1e400', '-1e-400', '123456789012345678901234567890']);
    case 3:
      return `"${g.pick(ISO)}"`;
    case 4:
      return String(1_600_000_000_000 + g.int(1e9)) + (g.chance(0.5) ? `.${g.int(1000)}` : '');
    case 5:
      return g.pick(['"\\uD800x"', '"\\n\\t\\"\\\\\\/"', '"caf\u00e9 \u{1F600}"', '"a\\u00e9b"', '"2024-01-02\\u0054"']);
    case 6: {
      const d = new Date(Date.UTC(1950 + g.int(120), g.int(12), 1 + g.int(28), g.int(24), g.int(60), g.int(60), g.int(1000)));
      return `"${d.toISOString()}"`;
    }
    default: {
      let s = '"';
      const n = g.int(14);
      for (let i = 0; i < n; i++) s += String.fromCharCode(0x61 + g.int(26));
      return s + '"';
    }
  }
}

function value(g: Gen, depth: number): string {
  if (depth > 4 || g.int(3) > 0) return scalar(g);
  if (g.chance(0.5)) {
    const n = g.int(4);
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(value(g, depth + 1));
    return `[${items.join(g.chance(0.2) ? ' , ' : ',')}]`;
  }
  return object(g, depth + 1);
}

function object(g: Gen, depth: number): string {
  const n = g.int(9);
  const members: string[] = [];
  for (let i = 0; i < n; i++) {
    const ws = g.chance(0.15) ? ' ' : '';
    members.push(`${ws}"${g.pick(NAMES)}"${ws}:${ws}${value(g, depth)}${ws}`);
  }
  return `{${members.join(',')}}`;
}

const PIECES = [
  '"', '\\', '\\u', '\\uD800', '\\uZZ12', '\\x', '\u00e9', '\u{1F600}', '\x01', '\x1f', '\x7f', '{', '}', '[', ']',
  ',', ':', ' ', '\t', '\r', '-', '0', '01', '1.', '.5', '1e', '1e+', 'tru', 'nul', 'falsey', '"id"', '"ts"',
];
const RAW_BYTES = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xff], [0xef, 0xbb, 0xbf], [0x00]];

/** A long string body (text-like: words, escapes, multi-byte characters). */
function blob(g: Gen, size: number): string {
  const words = ['lorem', 'ipsum', 'caf\u00e9', 'na\u00efve', '\\"q\\"', '\\n', '\\u00e9', '\u{1F600}', 'x'.repeat(200)];
  let s = '';
  while (s.length < size) s += g.pick(words) + ' ';
  return s;
}

/** One record's bytes: mostly valid objects, some other values, then corruptions. */
function record(g: Gen, opts: { allowLf: boolean }): number[] {
  let text: string;
  const kind = g.int(40);
  if (kind === 0) text = value(g, 0);
  else if (kind === 1) {
    const d = 1020 + g.int(10);
    text = '['.repeat(d) + ']'.repeat(d);
  } else if (kind === 2) {
    const d = 1020 + g.int(10);
    text = '{"id":' + '{"a":'.repeat(d) + '1' + '}'.repeat(d + 1);
  } else if (kind === 3) text = `{"id":"big","blob":"${'x'.repeat(2000 + g.int(3000))}"}`;
  else text = object(g, 0);
  let bytes = Array.from(enc.encode(text));
  const corruptions = g.chance(0.6) ? 0 : 1 + g.int(3);
  for (let c = 0; c < corruptions && bytes.length > 0; c++) {
    const at = g.int(bytes.length + 1);
    switch (g.int(5)) {
      case 0: {
        const i = g.int(bytes.length);
        bytes[i] = bytes[i]! ^ (1 << g.int(8));
        break;
      }
      case 1:
        bytes = bytes.slice(0, at);
        break;
      case 2:
        bytes.splice(at, 0, ...enc.encode(g.pick(PIECES)));
        break;
      case 3:
        bytes.splice(at, 0, ...g.pick(RAW_BYTES));
        break;
      default:
        bytes.splice(at, 1);
    }
  }
  if (!opts.allowLf) bytes = bytes.map((b) => (b === 0x0a ? 0x20 : b));
  return bytes;
}

function ws(g: Gen, lf: boolean): string {
  return g.pick(['', '', '', ' ', '\t', '\r', '  \t', ...(lf ? ['\n', ' \n\r\n'] : [])]);
}

interface Stream {
  bytes: Uint8Array;
  framing: FramingMode;
}

function linesStream(g: Gen, count: number): Stream {
  const parts: number[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(...enc.encode(ws(g, false)), ...record(g, { allowLf: false }), ...enc.encode(ws(g, false)));
    if (g.chance(0.05)) parts.push(0x0a); // empty line
    if (i < count - 1 || g.chance(0.5)) parts.push(...enc.encode(g.chance(0.2) ? '\r\n' : '\n'));
  }
  return { bytes: Uint8Array.from(parts), framing: Framing.Lines };
}

function arrayStream(g: Gen, count: number): Stream {
  const parts: number[] = [...enc.encode(ws(g, true))];
  if (!g.chance(0.03)) parts.push(0x5b);
  for (let i = 0; i < count; i++) {
    parts.push(...enc.encode(ws(g, true)), ...record(g, { allowLf: true }), ...enc.encode(ws(g, true)));
    if (i < count - 1) parts.push(...enc.encode(g.chance(0.02) ? ',,' : g.chance(0.02) ? ' ' : ','));
  }
  if (g.chance(0.05)) parts.push(0x2c);
  if (!g.chance(0.05)) parts.push(0x5d);
  if (g.chance(0.05)) parts.push(...enc.encode(g.pick([' x', ' ]', '{"id":1}', ' [1]'])));
  parts.push(...enc.encode(ws(g, true)));
  return { bytes: Uint8Array.from(parts), framing: Framing.Array };
}

/** Copies into memory of the requested kind (the worker hands SAB views to parsers). */
function place(bytes: Uint8Array, shared: boolean, pad: number): Uint8Array {
  const buf = shared ? new SharedArrayBuffer(bytes.length + pad * 2) : new ArrayBuffer(bytes.length + pad * 2);
  const view = new Uint8Array(buf, pad, bytes.length);
  view.set(bytes);
  return view;
}

interface Call {
  start: number;
  end: number;
  final: boolean;
  carryPhase: number;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** The input, or the part of it around [from, to) when it is long. */
function excerpt(bytes: Uint8Array, from = 0, to = bytes.length): string {
  const s = Math.max(0, from - 200);
  const e = Math.min(bytes.length, Math.max(to, from) + 200);
  const part = bytes.subarray(s, e);
  return `bytes [${s}, ${e}) of ${bytes.length} (hex): ${hex(part)}\n  as text: ${JSON.stringify(Buffer.from(part).toString('latin1'))}`;
}

function describeSlots(out: Int32Array, n: number): string[] {
  const f64 = new Float64Array(out.buffer, out.byteOffset, (n * SLOT_WORDS) / 2);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = out.subarray(i * SLOT_WORDS, (i + 1) * SLOT_WORDS);
    rows.push(`#${i} t=${f64[i * 4]} off=${w[2]} len=${w[3]} hash=${w[4]},${w[5]} status=${w[6]} tag=${w[7]}`);
  }
  return rows;
}

/**
 * Drives both parsers over `stream` cut at `cuts`, with `cap` slots per call.
 * Returns a description of the first difference, or undefined.
 */
function drive(js: ChunkParser, native: ChunkParser, stream: Stream, cuts: number[], cap: number, shared: boolean): string | undefined {
  const input = place(stream.bytes, shared, 8);
  const mk = () => {
    const words = cap * SLOT_WORDS;
    const buf = shared ? new SharedArrayBuffer(words * 4 + 8) : new ArrayBuffer(words * 4 + 8);
    return {
      out: new Int32Array(buf, 8, words).fill(0x55555555),
      state: new Float64Array(STATE_WORDS).fill(-7),
    };
  };
  const a = mk();
  const b = mk();
  let pos = 0;
  let phase: number = ArrayPhase.BeforeArray;
  const ends = [...cuts, input.length];
  let guard = 0;
  for (const end of ends) {
    for (;;) {
      if (++guard > 100_000) return 'no progress';
      const call: Call = { start: pos, end, final: end === input.length, carryPhase: phase };
      const req = { input, framing: stream.framing, ...call, carryPhase: phase as ArrayPhaseCode };
      a.out.fill(0x55555555);
      b.out.fill(0x55555555);
      js.parseChunk(req, a.out, a.state);
      native.parseChunk(req, b.out, b.state);
      const stateA = Array.from(a.state);
      const stateB = Array.from(b.state);
      const same = stateA.every((v, i) => Object.is(v, stateB[i])) && a.out.every((v, i) => v === b.out[i]);
      if (!same) {
        const n = Math.max(a.state[STATE_SLOTS]!, b.state[STATE_SLOTS]!) | 0;
        const small = stream.bytes.length <= 4096;
        return [
          small ? excerpt(stream.bytes) : excerpt(stream.bytes, call.start, Math.min(call.end, call.start + 3000)),
          `call ${JSON.stringify(call)} framing=${stream.framing} cap=${cap}`,
          `js     state=${JSON.stringify(stateA)}`,
          ...describeSlots(a.out, Math.min(n, cap)).map((r) => `js     ${r}`),
          `native state=${JSON.stringify(stateB)}`,
          ...describeSlots(b.out, Math.min(n, cap)).map((r) => `native ${r}`),
        ].join('\n');
      }
      const consumed = a.state[STATE_CONSUMED_END]!;
      const slots = a.state[STATE_SLOTS]!;
      phase = a.state[STATE_CARRY_PHASE]!;
      const progressed = consumed !== pos || slots > 0;
      pos = consumed;
      // Full output: drain and call again; otherwise wait for the next chunk.
      if (slots === cap && pos < end && progressed) continue;
      break;
    }
  }
  return undefined;
}

/** Shrinks a failing single record by deleting bytes while it still fails. */
function shrink(bytes: Uint8Array, fails: (b: Uint8Array) => boolean): Uint8Array {
  let cur = bytes;
  for (let chunk = Math.max(1, cur.length >> 1); chunk >= 1; chunk >>= 1) {
    for (let i = 0; i + chunk <= cur.length; ) {
      const next = new Uint8Array([...cur.subarray(0, i), ...cur.subarray(i + chunk)]);
      if (next.length > 0 && fails(next)) cur = next;
      else i += chunk;
    }
  }
  return cur;
}

function configs(): ParseConfig[] {
  return [
    compileParseConfig({ keyFields: ['id'], eventTimeField: 'ts', maxRecordBytes: 1 << 20 }),
    compileParseConfig({ keyFields: ['id', 'sym', 'meta'], eventTimeField: 'ts', maxRecordBytes: 600 }),
    compileParseConfig({ keyFields: ['\\u0069d', 'px'], eventTimeField: 'px', maxRecordBytes: 64 }),
    compileParseConfig({ keyFields: [], eventTimeField: 'id', maxRecordBytes: 1 << 20 }),
  ];
}

describe.skipIf(!addon)(`native parser = JS reference (addon ${addon ? 'loaded' : `not built: ${why}`})`, () => {
  const cases: { name: string; framing: FramingMode; rounds: number }[] = [
    { name: 'Lines', framing: Framing.Lines, rounds: 600 },
    { name: 'Single', framing: Framing.Single, rounds: 4000 },
    { name: 'Array', framing: Framing.Array, rounds: 600 },
  ];
  for (const { name, framing, rounds } of cases) {
    it(`${name}: random valid and corrupted records, random chunk splits and capacities`, () => {
      const cfgs = configs();
      const parsers = cfgs.map((c) => ({ js: createJsParser(c), native: createNativeParser(addon!, c) }));
      for (let round = 0; round < rounds; round++) {
        const seed = (BASE_SEED + framing * 1_000_003 + round * 7919) >>> 0;
        const g = new Gen(prng(seed));
        const ci = g.int(cfgs.length);
        const { js, native } = parsers[ci]!;
        let stream: Stream;
        if (framing === Framing.Lines) stream = linesStream(g, 1 + g.int(40));
        else if (framing === Framing.Array) stream = arrayStream(g, g.int(30));
        else {
          const r = record(g, { allowLf: true });
          stream = {
            bytes: Uint8Array.from([...enc.encode(ws(g, true)), ...r, ...enc.encode(ws(g, true))]),
            framing: Framing.Single,
          };
        }
        const cuts: number[] = [];
        if (framing !== Framing.Single) {
          const k = g.int(6);
          for (let i = 0; i < k; i++) cuts.push(g.int(stream.bytes.length + 1));
          cuts.sort((x, y) => x - y);
        } else if (g.chance(0.2)) {
          cuts.push(g.int(stream.bytes.length + 1)); // a non-final Single call consumes nothing
        }
        const cap = g.pick([1, 2, 3, 7, 64]);
        const shared = g.chance(0.5);
        const diff = drive(js, native, stream, cuts, cap, shared);
        if (diff !== undefined) {
          let minimal = '';
          if (framing === Framing.Single) {
            const fails = (b: Uint8Array) => drive(js, native, { bytes: b, framing }, [], 1, false) !== undefined;
            const m = shrink(stream.bytes, fails);
            minimal = `\nminimal failing record (hex): ${hex(m)}\n  as text: ${JSON.stringify(Buffer.from(m).toString('latin1'))}`;
          }
          expect.fail(
            `ORDERTAIL_SEED=${BASE_SEED} round ${round} (seed ${seed}) config #${ci} shared=${shared} cuts=${JSON.stringify(cuts)}\n` +
              `${diff}${minimal}`,
          );
        }
      }
    });
  }

  // The parse worker asks the native parser to mark StatusFlag.LF_FOLLOWS
  // itself (Lines framing); for every other parser it marks them in JS after
  // the call. Both must flag exactly the same slots.
  it('Lines with markLfFollows: the same flags as the worker\'s JS pass over the JS parser\'s slots', () => {
    const cfgs = configs();
    let flagged = 0;
    for (let round = 0; round < 400; round++) {
      const seed = (BASE_SEED + 77 + round * 7919) >>> 0;
      const g = new Gen(prng(seed));
      const c = cfgs[g.int(cfgs.length)]!;
      const js = createJsParser(c);
      const jsMarked: ChunkParser = {
        name: 'js',
        parseChunk(req, out, state) {
          js.parseChunk(req, out, state);
          for (let slot = 0; slot < state[STATE_SLOTS]!; slot++) {
            const w = slot * SLOT_WORDS;
            if ((out[w + 6]! & 0xff) > Status.UNKEYED) continue;
            const end = out[w + 2]! + out[w + 3]!;
            if (end < req.input.length && req.input[end] === 0x0a) {
              out[w + 6]! |= StatusFlag.LF_FOLLOWS;
              flagged++;
            }
          }
        },
      };
      const native = createNativeParser(addon!, c, { markLfFollows: true });
      expect(native.marksLfFollows).toBe(true);
      const stream = linesStream(g, 1 + g.int(40));
      const cuts: number[] = [];
      for (let i = g.int(6); i > 0; i--) cuts.push(g.int(stream.bytes.length + 1));
      cuts.sort((x, y) => x - y);
      const diff = drive(jsMarked, native, stream, cuts, g.pick([1, 3, 64]), g.chance(0.5));
      if (diff !== undefined) expect.fail(`ORDERTAIL_SEED=${BASE_SEED} round ${round} (seed ${seed})\n${diff}`);
    }
    expect(flagged).toBeGreaterThan(1000);
  });

  it('Array: resumption at every possible split point of small arrays', () => {
    const cfgs = configs();
    for (let round = 0; round < 40; round++) {
      const seed = (BASE_SEED + 31 * round + 5) >>> 0;
      const g = new Gen(prng(seed));
      const cfg = cfgs[round % cfgs.length]!;
      const js = createJsParser(cfg);
      const native = createNativeParser(addon!, cfg);
      const stream = arrayStream(g, 1 + g.int(5));
      if (stream.bytes.length > 1500) continue;
      for (let k = 0; k <= stream.bytes.length; k++) {
        const cap = 1 + (k % 3);
        const diff = drive(js, native, stream, [k], cap, k % 2 === 0);
        if (diff) expect.fail(`ORDERTAIL_SEED=${BASE_SEED} split round ${round} (seed ${seed}) cut=${k}\n${diff}`);
      }
    }
  });

  it('reaches every decision (the generator is not too tame)', () => {
    const js = createJsParser(configs()[0]!);
    const small = createJsParser(configs()[1]!);
    const seen = new Set<number>();
    const g = new Gen(prng(BASE_SEED));
    for (let i = 0; i < 4000; i++) {
      const bytes = Uint8Array.from(record(g, { allowLf: true }));
      const out = new Int32Array(SLOT_WORDS);
      const state = new Float64Array(STATE_WORDS);
      for (const p of [js, small]) {
        p.parseChunk({ input: bytes, start: 0, end: bytes.length, framing: Framing.Single, final: true, carryPhase: 0 }, out, state);
        if (state[STATE_SLOTS] === 1) seen.add(out[6]!);
      }
    }
    for (const s of Object.values(Status)) expect([...seen].some((v) => (v & 0xff) === s), `status ${s}`).toBe(true);
    expect([...seen].some((v) => (v & 0x100) !== 0), 'EVENT_TIME_INVALID flag').toBe(true);
  });

  it('SharedArrayBuffer-backed input, output and state all work', () => {
    const cfg = configs()[0]!;
    const native = createNativeParser(addon!, cfg);
    const text = '{"id":"a","ts":"2024-01-02T03:04:05Z"}\n{"id":"b","ts":5}\n';
    const input = place(enc.encode(text), true, 3);
    const out = new Int32Array(new SharedArrayBuffer(4 * SLOT_WORDS * 4), 0, 4 * SLOT_WORDS);
    const state = new Float64Array(new SharedArrayBuffer(STATE_WORDS * 8));
    native.parseChunk({ input, start: 0, end: input.length, framing: Framing.Lines, final: true, carryPhase: 0 }, out, state);
    expect(Array.from(state.subarray(0, 3))).toEqual([input.length, 0, 2]);
    const f64 = new Float64Array(out.buffer, 0, 8);
    expect(f64[0]).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(f64[4]).toBe(5);
    expect(out[6]).toBe(Status.KEYED);
  });

  for (const mode of ['simd-json', 'scanner'] as const) {
    it(`forced '${mode}' mode agrees too (both validators are exercised on every record shape)`, () => {
      const cfgs = configs();
      for (let round = 0; round < 120; round++) {
        const seed = (BASE_SEED + 99 + round) >>> 0;
        const g = new Gen(prng(seed));
        const cfg = cfgs[round % cfgs.length]!;
        const js = createJsParser(cfg);
        const native = createNativeParser(addon!, cfg, { mode });
        const array = round % 3 === 2;
        const stream = array ? arrayStream(g, 20) : linesStream(g, 30);
        const diff = drive(js, native, stream, [], 16, false);
        if (diff) expect.fail(`ORDERTAIL_SEED=${BASE_SEED} ${mode} round ${round} (seed ${seed})\n${diff}`);
      }
    });
  }

  it('rejects bad ranges like the JS parser', () => {
    const cfg = configs()[0]!;
    const native = createNativeParser(addon!, cfg);
    const input = enc.encode('{}');
    const out = new Int32Array(SLOT_WORDS);
    const state = new Float64Array(STATE_WORDS);
    expect(() =>
      native.parseChunk({ input, start: 1, end: 5, framing: Framing.Lines, final: true, carryPhase: 0 }, out, state),
    ).toThrow(RangeError);
    // Views over the same memory would alias the addon's output: refused.
    const shared = new ArrayBuffer(SLOT_WORDS * 4);
    expect(() =>
      native.parseChunk(
        { input, start: 0, end: 2, framing: Framing.Lines, final: true, carryPhase: 0 },
        new Int32Array(shared),
        new Float64Array(shared, 0, STATE_WORDS),
      ),
    ).toThrow(/overlap/);
  });
});
