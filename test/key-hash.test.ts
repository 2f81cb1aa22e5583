/**
 * Key hash vectors shared with other implementations
 * (test/fixtures/key-hash-vectors.json), re-derived here by a BigInt
 * transcription of the contract's formula so the fixture is not only
 * checked against the code that generated it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Framing, Status } from '../dist/src/parser/contract.js';
import { hashKeyBytes } from '../dist/src/parser/js-parser.js';
import { callOnce, config, parserFactories } from './helpers/parsers.js';

interface Vector {
  what: string;
  hex: string;
  lo: number;
  hi: number;
}
const { vectors } = JSON.parse(readFileSync(new URL('./fixtures/key-hash-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] };

const M = 1n << 32n;
const mul = (a: bigint, b: bigint) => (a * b) % M;
const fmix = (h: bigint) => {
  h ^= h >> 16n;
  h = mul(h, 0x85ebca6bn);
  h ^= h >> 13n;
  h = mul(h, 0xc2b2ae35n);
  return h ^ (h >> 16n);
};
const toInt32 = (h: bigint) => Number(BigInt.asIntN(32, h));

/** The contract's two lanes, written out with unbounded integers. */
function referenceHash(bytes: Uint8Array): [number, number] {
  let lo = 0x811c9dc5n;
  let hi = 0x9e3779b9n;
  for (const b of bytes) {
    lo = mul(lo ^ BigInt(b), 0x01000193n);
    hi = mul(hi ^ BigInt(b), 0x5bd1e995n);
    hi ^= hi >> 15n;
  }
  return [toInt32(fmix(lo)), toInt32(fmix(hi))];
}

describe('key hash vectors', () => {
  it('has vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(8);
  });

  it.each(vectors.map((v) => [v.what, v] as const))('hashKeyBytes: %s', (_w, v) => {
    expect(hashKeyBytes(Buffer.from(v.hex, 'hex'))).toEqual([v.lo, v.hi]);
  });

  it.each(vectors.map((v) => [v.what, v] as const))('independent BigInt derivation: %s', (_w, v) => {
    expect(referenceHash(Buffer.from(v.hex, 'hex'))).toEqual([v.lo, v.hi]);
  });

  it('the two lanes differ and the 0xFF separator matters', () => {
    const a = hashKeyBytes(Buffer.from('31ff3233ff', 'hex'));
    const b = hashKeyBytes(Buffer.from('3132ff33ff', 'hex'));
    expect(a).not.toEqual(b);
    expect(a[0]).not.toBe(a[1]);
  });
});

const factories = await parserFactories();

describe.each(factories.map((f) => [f.name, f] as const))('%s parser hashes records like the vectors', (_n, factory) => {
  const byWhat = (what: string) => vectors.find((v) => v.what === what)!;

  it('single string key', () => {
    const parser = factory.create(config(['id']));
    const [slot] = callOnce(parser, Buffer.from('{"x":1,"id":"ord-1"}'), Framing.Single).slots;
    expect(slot!.status).toBe(Status.KEYED);
    expect([slot!.hashLo, slot!.hashHi]).toEqual([byWhat('string field "ord-1"').lo, byWhat('string field "ord-1"').hi]);
  });

  it('two fields in configured order, whatever the member order', () => {
    const parser = factory.create(config(['a', 'b']));
    const v = byWhat('two fields 1 and "x"');
    for (const text of ['{"a":1,"b":"x"}', '{"b":"x","a":1}', '{ "b" : "x" , "a" : 1 }']) {
      const [slot] = callOnce(parser, Buffer.from(text), Framing.Single).slots;
      expect([slot!.hashLo, slot!.hashHi]).toEqual([v.lo, v.hi]);
    }
  });

  it('container values verbatim', () => {
    const parser = factory.create(config(['id']));
    const v = byWhat('array field [1, 2] verbatim');
    const [slot] = callOnce(parser, Buffer.from('{"id":[1, 2]}'), Framing.Single).slots;
    expect([slot!.hashLo, slot!.hashHi]).toEqual([v.lo, v.hi]);
  });
});
