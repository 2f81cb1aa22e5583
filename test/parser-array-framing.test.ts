/**
 * Array framing: each element of one top-level array is a record; chunks
 * resume through carryPhase at any byte; bad elements are resynchronised
 * at the next depth-0 ',' or ']'.
 */
import { describe, expect, it } from 'vitest';
import { ArrayPhase, Framing, MAX_DEPTH, Status, STATUS_CODE_MASK } from '../dist/src/parser/contract.js';
import type { ArrayPhaseCode, ChunkParser } from '../dist/src/parser/contract.js';
import { callOnce, config, parseAll, parserFactories, slotText } from './helpers/parsers.js';
import type { CallResult, SlotObject } from './helpers/parsers.js';

const factories = await parserFactories();
const code = (s: SlotObject) => s.status & STATUS_CODE_MASK;

/** The input in two calls split at `cut`; bytes past the first call's end are garbled, so reading them would show. */
function parseSplit(parser: ChunkParser, input: Buffer, cut: number, capacity = 64): CallResult {
  const garbled = Buffer.concat([input.subarray(0, cut), Buffer.from(']]"\\{,'.repeat(4))]);
  const first = parseAll(parser, garbled, Framing.Array, { end: cut, final: false, capacity });
  const second = parseAll(parser, input, Framing.Array, {
    start: first.consumedEnd,
    final: true,
    carryPhase: first.carryPhase as ArrayPhaseCode,
    capacity,
  });
  return { slots: [...first.slots, ...second.slots], consumedEnd: second.consumedEnd, carryPhase: second.carryPhase };
}

describe.each(factories.map((f) => [f.name, f] as const))('%s parser, Array framing', (_n, factory) => {
  const parser = factory.create(config(['id'], 'ts', 64));
  const array = (text: string | Buffer, opts = {}) => parseAll(parser, Buffer.isBuffer(text) ? text : Buffer.from(text), Framing.Array, opts);
  /** Slots as [text, code]; the input is Latin-1 so tests can hold any byte. */
  const texts = (text: string) => {
    const input = Buffer.from(text, 'latin1');
    return array(input).slots.map((s) => [input.toString('latin1', s.offset, s.offset + s.length), code(s)]);
  };

  it('frames elements, excluding the whitespace and newlines between them', () => {
    const text = ' \n[ {"id":1} ,\n\t{"id":2,"s":"a,]}"}\r\n,{"x":[1,{"id":0}]}\n]\n ';
    const r = array(text);
    expect(r.slots.map((s) => [slotText(Buffer.from(text), s), s.status])).toEqual([
      ['{"id":1}', Status.KEYED],
      ['{"id":2,"s":"a,]}"}', Status.KEYED],
      ['{"x":[1,{"id":0}]}', Status.UNKEYED],
    ]);
    expect(r.carryPhase).toBe(ArrayPhase.Done);
    expect(r.consumedEnd).toBe(text.length);
  });

  it('handles the empty array and non-object elements', () => {
    expect(texts('[]')).toEqual([]);
    expect(texts('[ 1, "a" ,null,[{"id":1}]]')).toEqual([
      ['1', Status.NOT_OBJECT],
      ['"a"', Status.NOT_OBJECT],
      ['null', Status.NOT_OBJECT],
      ['[{"id":1}]', Status.NOT_OBJECT],
    ]);
  });

  it('resynchronises after broken elements', () => {
    expect(texts('[{"id":1},{"id":2,]} ,{"id":3}]')).toEqual([
      ['{"id":1}', Status.KEYED],
      ['{"id":2,]}', Status.INVALID_JSON],
      ['{"id":3}', Status.KEYED],
    ]);
    expect(texts('[{"id":1} x y ,{"a":"\xff,]"}, {"id":"\x01"} ,{"id":4}]')).toEqual([
      ['{"id":1} x y', Status.TRAILING_GARBAGE],
      ['{"a":"\xff,]"}', Status.INVALID_UTF8],
      ['{"id":"\x01"}', Status.CONTROL_CHAR],
      ['{"id":4}', Status.KEYED],
    ]);
  });

  it('reports empty elements as zero-length INVALID_JSON slots', () => {
    const r = array('[1,,2, ]');
    expect(r.slots.map((s) => [s.offset, s.length, code(s)])).toEqual([
      [1, 1, Status.NOT_OBJECT],
      [3, 0, Status.INVALID_JSON],
      [4, 1, Status.NOT_OBJECT],
      [7, 0, Status.INVALID_JSON],
    ]);
    expect(array('[,{"id":1}]').slots.map(code)).toEqual([Status.INVALID_JSON, Status.KEYED]);
  });

  it('rejects a top level that is not an array, then expects nothing more', () => {
    const r = array(' {"id":1} \n');
    expect(r.slots.map((s) => [s.offset, s.length, code(s)])).toEqual([[1, 8, Status.INVALID_JSON]]);
    expect(r.carryPhase).toBe(ArrayPhase.Done);
  });

  it('reports trailing garbage after the closing bracket', () => {
    expect(texts('[{"id":1}] , x \n')).toEqual([
      ['{"id":1}', Status.KEYED],
      [', x', Status.TRAILING_GARBAGE],
    ]);
    expect(array('[{"id":1}]  \n ').carryPhase).toBe(ArrayPhase.Done);
  });

  it('ends an unclosed array at final with phase AfterElement or NextElement', () => {
    const a = array('[{"id":1}  ');
    expect(a.slots.map(code)).toEqual([Status.KEYED]);
    expect(a.carryPhase).toBe(ArrayPhase.AfterElement);
    const b = array('[{"id":1},');
    expect(b.slots.map(code)).toEqual([Status.KEYED]);
    expect(b.carryPhase).toBe(ArrayPhase.NextElement);
    expect(texts('[{"id":1},{"id":')).toEqual([
      ['{"id":1}', Status.KEYED],
      ['{"id":', Status.INVALID_JSON],
    ]);
  });

  it('does not consume an element before its delimiter unless final', () => {
    const text = Buffer.from('[{"id":1},{"id":2}  ');
    const r = callOnce(parser, text, Framing.Array, { final: false });
    expect(r.slots).toHaveLength(1);
    expect(r.consumedEnd).toBe(10);
    expect(r.carryPhase).toBe(ArrayPhase.NextElement);
    const partial = callOnce(parser, Buffer.from('[{"id":1}, {"id":"abc'), Framing.Array, { final: false });
    expect(partial.consumedEnd).toBe(11);
  });

  it('rejects too-large elements by their whole extent', () => {
    const big = `{"id":"${'a'.repeat(80)}"}`;
    const bad = `{"id":[${'1,'.repeat(40)}]}`;
    expect(texts(`[{"id":1},${big} , ${bad},{"id":2}]`)).toEqual([
      ['{"id":1}', Status.KEYED],
      [big, Status.TOO_LARGE],
      [bad, Status.TOO_LARGE],
      ['{"id":2}', Status.KEYED],
    ]);
    // Still incomplete when not final: left for the caller to skip.
    const r = callOnce(parser, Buffer.from(`[{"id":1},${big.slice(0, 70)}`), Framing.Array, { final: false });
    expect(r.consumedEnd).toBe(10);
  });

  it('counts depth from the element, not the enclosing array', () => {
    const deep = factory.create(config(['id'], 'ts', 1 << 20));
    const nest = (d: number) => '['.repeat(d) + ']'.repeat(d);
    const r = parseAll(deep, Buffer.from(`[${nest(MAX_DEPTH)},${nest(MAX_DEPTH + 1)},{"id":1}]`), Framing.Array);
    expect(r.slots.map(code)).toEqual([Status.NOT_OBJECT, Status.TOO_DEEP, Status.KEYED]);
  });

  const sample =
    ' [ {"id":1,"s":"x,]}\\"{["} ,\n{"id":[1,{"a":"]"}],"ts":"2024-01-02"},' +
    ' {"id":2,]}, {"a":1} junk ,"str",12.5e1 , [[],{}], {"id":"\u00e9\u6f22"},,{"id":3} ] \n';

  it('resumes at every split point exactly as one-shot parsing', () => {
    const input = Buffer.from(sample);
    const whole = array(input);
    expect(whole.slots.length).toBe(10);
    for (let cut = 0; cut <= input.length; cut++) {
      const split = parseSplit(parser, input, cut);
      expect(split, `split at ${cut}`).toEqual(whole);
    }
  });

  it('gives identical results with room for one slot per call', () => {
    const input = Buffer.from(sample);
    const whole = array(input);
    expect(array(input, { capacity: 1 })).toEqual(whole);
    for (let cut = 0; cut <= input.length; cut += 7) {
      expect(parseSplit(parser, input, cut, 1), `split at ${cut}`).toEqual(whole);
    }
    expect(callOnce(parser, input, Framing.Array, { capacity: 1 }).consumedEnd).toBe(input.indexOf('} ,') + 3);
  });
});
