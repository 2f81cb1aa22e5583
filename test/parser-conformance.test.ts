/**
 * JSONTestSuite (test_parsing) through every parser with Single framing:
 * y_ objects are accepted, other y_ values are NOT_OBJECT, every n_ is
 * rejected, i_ files only have to come back. Accept/reject is also checked
 * against JSON.parse wherever JSON.parse is authoritative.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Framing, Status, STATUS_CODE_MASK, isAccepted } from '../dist/src/parser/contract.js';
import { availableParsers, callOnce } from './helpers/parsers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const suiteDir = path.resolve(repoRoot, '../shared/conformance/JSONTestSuite/test_parsing');
const files = readdirSync(suiteDir)
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

describe.each(parsers.map((p) => [p.name, p] as const))('%s parser on JSONTestSuite', (_name, parser) => {
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
