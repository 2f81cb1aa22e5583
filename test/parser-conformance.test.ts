/**
 * JSONTestSuite (test_parsing) through every parser with Single framing:
 * y_ objects are accepted, other y_ values are NOT_OBJECT, every n_ is
 * rejected, i_ files only have to come back. Accept/reject is also checked
 * against JSON.parse wherever JSON.parse is authoritative.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Framing, Status, STATUS_CODE_MASK, isAccepted } from '../dist/src/parser/contract.js';
import { availableParsers, callOnce } from './helpers/parsers.js';
import { prng } from '../dist/src/util/prng.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const suiteDir = path.resolve(repoRoot, '../shared/conformance/JSONTestSuite/test_parsing');
// The suite lives beside the project (../shared), not in it: a clone on its own skips these cases.
const SUITE_MISSING = existsSync(suiteDir) ? undefined : `JSONTestSuite cases skipped: ${suiteDir} is missing`;
if (SUITE_MISSING) console.log(`parser-conformance: ${SUITE_MISSING}`);
const files = SUITE_MISSING
  ? []
  : readdirSync(suiteDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((name) => ({ name, bytes: readFileSync(path.join(suiteDir, name)) }));

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** JSON.parse's verdict, or undefined when the bytes are not UTF-8 (lossy decoding would hide the error). */
function jsonParseAccepts(bytes: Uint8Array): boolean | undefined {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const parsers = await availableParsers();


const SEEDS = [
  '{"id":"ord-1","px":"12.5","qty":3,"tags":["a","b"],"m":{"k":[1,-2.5e3,true,false,null]},"s":"caf\\u00e9 \\"q\\" \\ud83d\\ude00 ✓"}',
  '[{"a":[]},{},"x",0,-0.0,1E+2]',
  '{"ts":"2024-01-02T03:04:05Z","n":{"deep":{"er":[[[]]]}}}',
];
const ALPHABET = Buffer.from('{}[]:,"\\ \t\n0123456789-+.eEtrufalsn\x01\x7f');

/** Seeded byte-level mutations of valid JSON: deletions, insertions, replacements, truncations. */
function mutants(count: number): Buffer[] {
  const rand = prng(8259);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const b = [...Buffer.from(SEEDS[i % SEEDS.length]!)];
    const edits = 1 + Math.floor(rand() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (b.length + 1));
      const pick = ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
      const op = Math.floor(rand() * 4);
      if (op === 0) b.splice(at, 1);
      else if (op === 1) b.splice(at, 0, pick);
      else if (op === 2) b[at] = pick;
      else b.length = at;
    }
    out.push(Buffer.from(b));
  }
  return out;
}

describe.skipIf(SUITE_MISSING !== undefined).each(parsers.map((p) => [p.name, p] as const))('%s parser on JSONTestSuite', (_name, parser) => {
  const run = (bytes: Uint8Array) => callOnce(parser, bytes, Framing.Single, { final: true });

  it('finds the suite', () => {
    expect(files.filter((f) => f.name.startsWith('y_')).length).toBeGreaterThan(90);
    expect(files.filter((f) => f.name.startsWith('n_')).length).toBeGreaterThan(180);
  });

  it.each(files.filter((f) => f.name.startsWith('n_')).map((f) => [f.name, f.bytes] as const))('rejects %s', (_n, bytes) => {
    const { slots, consumedEnd } = run(bytes);
    expect(slots.length).toBeLessThanOrEqual(1);
    for (const s of slots) expect(isAccepted(s.status)).toBe(false);
    expect(consumedEnd).toBe(bytes.length);
  });

  it.each(files.filter((f) => f.name.startsWith('y_')).map((f) => [f.name, f.bytes] as const))('accepts %s', (_n, bytes) => {
    const { slots } = run(bytes);
    expect(slots).toHaveLength(1);
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const topIsObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    const code = slots[0]!.status & STATUS_CODE_MASK;
    if (topIsObject) expect([Status.KEYED, Status.UNKEYED]).toContain(code);
    else expect(code).toBe(Status.NOT_OBJECT);
  });

  it.each(files.filter((f) => f.name.startsWith('i_')).map((f) => [f.name, f.bytes] as const))('returns on %s', (_n, bytes) => {
    const { slots, consumedEnd } = run(bytes);
    expect(slots.length).toBeLessThanOrEqual(1);
    expect(consumedEnd).toBe(bytes.length);
  });

  it('agrees with JSON.parse on every valid-UTF-8 y_/n_ file', () => {
    const disagreements: string[] = [];
    let compared = 0;
    for (const f of files) {
      if (!f.name.startsWith('y_') && !f.name.startsWith('n_')) continue;
      const verdict = jsonParseAccepts(f.bytes);
      if (verdict === undefined) continue;
      compared++;
      const { slots } = run(f.bytes);
      // Valid JSON is accepted or, when not an object, NOT_OBJECT; no slot means only whitespace.
      const valid = slots.length === 1 && (isAccepted(slots[0]!.status) || (slots[0]!.status & STATUS_CODE_MASK) === Status.NOT_OBJECT);
      if (valid !== verdict) disagreements.push(`${f.name}: parser ${valid}, JSON.parse ${verdict}`);
    }
    expect(compared).toBeGreaterThan(250);
    expect(disagreements).toEqual([]);
  });
});

describe.each(parsers.map((p) => [p.name, p] as const))('%s parser against JSON.parse', (_name, parser) => {
  const run = (bytes: Uint8Array) => callOnce(parser, bytes, Framing.Single, { final: true });

  it('agrees with JSON.parse on seeded mutations of valid records', () => {
    for (const seed of SEEDS) expect(() => JSON.parse(seed)).not.toThrow();
    const disagreements: string[] = [];
    let valid = 0;
    for (const bytes of mutants(20_000)) {
      const verdict = jsonParseAccepts(bytes);
      if (verdict === undefined) continue;
      if (verdict) valid++;
      const { slots } = run(bytes);
      const ours = slots.length === 1 && (isAccepted(slots[0]!.status) || (slots[0]!.status & STATUS_CODE_MASK) === Status.NOT_OBJECT);
      if (ours !== verdict) disagreements.push(`${JSON.stringify(bytes.toString('latin1'))}: parser ${ours}, JSON.parse ${verdict}`);
    }
    // Enough of both kinds for the comparison to mean something.
    expect(valid).toBeGreaterThan(1000);
    expect(disagreements.slice(0, 10)).toEqual([]);
  });
});
