/**
 * An adapter for the npm `simdjson` package (optional dependency).
 *
 * What the package can do for us: its `isValid(string)` runs simdjson's SIMD
 * validator. What it cannot: report byte offsets or raw value text (`parse`
 * and `lazyParse` build JS values), so the key hash — defined on raw bytes —
 * cannot come from it. The adapter therefore validates each record with
 * simdjson and then walks only the top-level members of the (now known valid)
 * object in JS to find the key and event-time spans. Anything simdjson rejects,
 * or that is not plainly an object, goes to the JS classifier, which names the
 * contract's reason (so decisions stay identical to the JS parser).
 * Cost it cannot avoid: one UTF-8 decode into a JS string per record and one
 * native call per record. The benchmark reports what that costs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { Framing, SLOT_WORDS, STATE_SLOTS, type ChunkParser, type ChunkRequest, type ParseConfig } from './contract.js';
import { parseArray, parseLines, parseSingle } from './js/framing.js';
import { RecordClassifier } from './js/record.js';
import type { FieldTable } from './js/fields.js';

interface SimdjsonModule {
  isValid(json: string): boolean;
}

let cached: SimdjsonModule | Error | undefined;

/**
 * The package's addon, loaded so that its calls run its own copy of simdjson.
 * Node 22+ has simdjson built in and exports its symbols for addons; an ELF
 * loader binds the addon's calls to the first definition it finds, Node's, of
 * another version and layout: the parser's memory is then corrupted and the
 * process crashes (SIGSEGV in Node's `dom_parser_implementation::stage2`),
 * now and then. RTLD_DEEPBIND makes the addon look in itself first. The
 * package's own entry point is not used: without its addon built it silently
 * answers with JSON.parse instead.
 */
function loadAddon(): SimdjsonModule {
  const packageDir = dirname(createRequire(import.meta.url).resolve('simdjson/package.json'));
  const file = join(packageDir, 'build', 'Release', 'simdjson.node');
  if (!existsSync(file)) throw new Error(`its addon was not built (${file} is missing: npm install-scripts approve simdjson, then npm rebuild simdjson)`);
  const dlopen = constants.dlopen as Partial<Record<'RTLD_NOW' | 'RTLD_DEEPBIND', number>>;
  const elf = process.platform !== 'darwin' && process.platform !== 'win32';
  const module = { exports: {} as Partial<SimdjsonModule> };
  if (elf && dlopen.RTLD_DEEPBIND !== undefined) process.dlopen(module, file, (dlopen.RTLD_NOW ?? 2) | dlopen.RTLD_DEEPBIND);
  else if (elf && process.versions.simdjson !== undefined) {
    throw new Error(`Node ${process.version} has simdjson ${process.versions.simdjson} built in, and this platform cannot keep the package's copy apart from it (no RTLD_DEEPBIND): its calls would run Node's copy and crash`);
  } else process.dlopen(module, file);
  return module.exports as SimdjsonModule;
}

/** The simdjson module, or the reason it cannot be loaded. */
export function loadSimdjson(): SimdjsonModule | Error {
  if (cached === undefined) {
    try {
      const mod = loadAddon();
      if (typeof mod.isValid !== 'function') throw new TypeError('simdjson module has no isValid()');
      mod.isValid('{}');
      cached = mod;
    } catch (err) {
      cached = new Error(`the simdjson package is not usable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  return cached;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the quote closing a string whose content starts at p (input known valid). */
function stringEnd(buf: Buffer, p: number): number {
  for (;;) {
    const q = buf.indexOf(QUOTE, p);
    let k = q - 1;
    while (buf[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    p = q + 1;
  }
}

/** Index just past the value starting at p (input known valid). */
function valueEnd(buf: Buffer, p: number, e: number): number {
  const c = buf[p]!;
  if (c === QUOTE) return stringEnd(buf, p + 1) + 1;
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    for (;;) {
      const d = buf[p]!;
      if (d === QUOTE) p = stringEnd(buf, p + 1);
      else if (d === LBRACE || d === LBRACKET) depth++;
      else if ((d === RBRACE || d === RBRACKET) && --depth === 0) return p + 1;
      p++;
    }
  }
  while (p < e) {
    const d = buf[p]!;
    if (d === COMMA || d === RBRACE || d === RBRACKET || isWs(d)) return p;
    p++;
  }
  return p;
}

/** Record the top-level member spans of the valid object at buf[s] === '{'. */
function walkMembers(buf: Buffer, s: number, e: number, fields: FieldTable): void {
  fields.reset();
  let p = s + 1;
  for (;;) {
    while (isWs(buf[p]!)) p++;
    if (buf[p] !== QUOTE) return; // '}' of an empty object
    const ns = p + 1;
    const ne = stringEnd(buf, ns);
    p = ne + 1;
    while (buf[p] !== COLON) p++;
    p++;
    while (isWs(buf[p]!)) p++;
    const vs = p;
    p = valueEnd(buf, p, e);
    fields.member(buf, ns, ne, vs, p);
    while (isWs(buf[p]!)) p++;
    if (buf[p] !== COMMA) return;
    p++;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class SimdjsonClassifier extends RecordClassifier {
  constructor(
    config: ParseConfig,
    private readonly simdjson: SimdjsonModule,
  ) {
    super(config);
  }

  override classify(s: number, e: number): void {
    const buf = this.buf;
    if (e - s > this.maxRecordBytes || buf[s] !== LBRACE) return super.classify(s, e);
    let text: string;
    try {
      text = utf8.decode(buf.subarray(s, e));
    } catch {
      return super.classify(s, e); // invalid UTF-8: the JS classifier names it
    }
    if (!this.simdjson.isValid(text)) return super.classify(s, e);
    walkMembers(buf, s, e, this.fieldTable);
    this.acceptValue(s);
  }
}

export function createSimdjsonParser(config: ParseConfig): ChunkParser {
  const mod = loadSimdjson();
  if (mod instanceof Error) throw mod;
  const rec = new SimdjsonClassifier(config, mod);
  return {
    name: 'simdjson',
    parseChunk(req: ChunkRequest, out: Int32Array, state: Float64Array): void {
      rec.setInput(req.input, req.end);
      const cap = (out.length / SLOT_WORDS) | 0;
      let n: number;
      if (req.framing === Framing.Lines) n = parseLines(rec, req.start, req.end, req.final, out, cap, state);
      else if (req.framing === Framing.Single) n = parseSingle(rec, req.start, req.end, req.final, out, cap, state);
      else n = parseArray(rec, req.start, req.end, req.final, req.carryPhase, out, cap, state);
      state[STATE_SLOTS] = n;
    },
  };
}
