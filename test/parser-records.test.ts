/**
 * Tricky records with Lines framing: where the key is and is not, what the
 * slot covers, every reject reason and their precedence, partial lines, and
 * identical results whatever the capacity of `out`.
 */
import { describe, expect, it } from 'vitest';
import { Framing, MAX_DEPTH, SLOT_WORDS, STATE_SLOTS, STATE_WORDS, Status, STATUS_CODE_MASK } from '../dist/src/parser/contract.js';
import type { ChunkParser } from '../dist/src/parser/contract.js';
import { hashKeyBytes } from '../dist/src/parser/js-parser.js';
import { callOnce, config, parseAll, parserFactories, slotText } from './helpers/parsers.js';
import type { SlotObject } from './helpers/parsers.js';

const FF = Buffer.from([0xff]);
/** Key bytes per the contract: each value's raw text, then 0xFF. */
const keyOf = (...values: (string | Buffer)[]) => hashKeyBytes(Buffer.concat(values.flatMap((v) => [Buffer.from(v), FF])));
const hashOf = (s: SlotObject) => [s.hashLo, s.hashHi];
const code = (s: SlotObject) => s.status & STATUS_CODE_MASK;

const factories = await parserFactories();

describe.each(factories.map((f) => [f.name, f] as const))('%s parser, Lines records', (_n, factory) => {
  const parser: ChunkParser = factory.create(config(['id'], 'ts', 1 << 20));
  const lines = (text: string | Buffer, opts = {}) => parseAll(parser, Buffer.isBuffer(text) ? text : Buffer.from(text), Framing.Lines, opts);
  const one = (text: string | Buffer) => {
    const { slots } = lines(text);
    expect(slots).toHaveLength(1);
    return slots[0]!;
  };

  describe('the key field', () => {
    it('is only a top-level member name', () => {
      const s = one('{"a":{"id":1},"b":"\\"id\\":2","c":["id",{"id":3}]}');
      expect(s.status).toBe(Status.UNKEYED);
      expect(hashOf(s)).toEqual([0, 0]);
    });

    it('is found after nested decoys', () => {
      const s = one('{"a":{"id":1},"id":2}');
      expect(s.status).toBe(Status.KEYED);
      expect(hashOf(s)).toEqual(keyOf('2'));
    });

    it('matches raw name bytes: an escaped name is a different name', () => {
      expect(one('{"\\u0069d":1}').status).toBe(Status.UNKEYED);
      expect(one('{"ID":1,"id ":2}').status).toBe(Status.UNKEYED);
    });

    it('keeps strings with brackets and escaped quotes verbatim', () => {
      const s = one('{"x":"}{][,:","id":"a\\"}]{[b","y":"\\\\"}');
      expect(s.status).toBe(Status.KEYED);
      expect(hashOf(s)).toEqual(keyOf('"a\\"}]{[b"'));
    });

    it('accepts \\u escapes, surrogate pairs and lone escaped surrogates', () => {
      const s = one('{"id":"\\ud83d\\ude00\\u00e9\\uD800"}');
      expect(s.status).toBe(Status.KEYED);
      expect(hashOf(s)).toEqual(keyOf('"\\ud83d\\ude00\\u00e9\\uD800"'));
    });

    it('hashes non-ASCII text as its UTF-8 bytes', () => {
      const s = one('{"id":"café ✓ 😀 Ω"}');
      expect(s.status).toBe(Status.KEYED);
      expect(hashOf(s)).toEqual(keyOf('"café ✓ 😀 Ω"'));
    });

    it('uses the last of duplicate members', () => {
      const dup = one('{"id":1,"x":0,"id":"two"}');
      expect(hashOf(dup)).toEqual(hashOf(one('{"id":"two"}')));
      expect(hashOf(dup)).not.toEqual(hashOf(one('{"id":1}')));
    });

    it('takes any value, null and containers included', () => {
      expect(hashOf(one('{"id":null}'))).toEqual(keyOf('null'));
      expect(hashOf(one('{"id":{"a": [1 ,2]}}'))).toEqual(keyOf('{"a": [1 ,2]}'));
    });

    it('combines several fields in configured order, not member order', () => {
      const multi = factory.create(config(['a', 'b']));
      const run = (t: string) => parseAll(multi, Buffer.from(t), Framing.Lines).slots[0]!;
      const ab = run('{"a":1,"b":"x"}');
      expect(ab.status).toBe(Status.KEYED);
      expect(hashOf(ab)).toEqual(keyOf('1', '"x"'));
      expect(hashOf(run('{"b":"x","z":true,"a":1}'))).toEqual(hashOf(ab));
      expect(hashOf(run('{"a":1,"b":"y"}'))).not.toEqual(hashOf(ab));
      // The 0xFF separator keeps field boundaries apart.
      expect(hashOf(run('{"a":12,"b":3}'))).not.toEqual(hashOf(run('{"a":1,"b":23}')));
      expect(run('{"a":1}').status).toBe(Status.UNKEYED);
    });

    it('leaves every record UNKEYED when no key field is configured', () => {
      const none = factory.create(config([]));
      expect(parseAll(none, Buffer.from('{"id":1}'), Framing.Lines).slots[0]!.status).toBe(Status.UNKEYED);
    });
  });

  describe('framing of lines', () => {
    it('handles CRLF and trims space, tab and CR from both ends', () => {
      const text = '{"id":1}\r\n  \t{"id":2} \t\r\n';
      const { slots, consumedEnd } = lines(text);
      expect(slots.map((s) => [s.offset, s.length])).toEqual([
        [0, 8],
        [13, 8],
      ]);
      expect(consumedEnd).toBe(text.length);
    });

    it('gives blank and whitespace-only lines no slot', () => {
      const text = '\n \n\t\r\n{"id":1}\n\n   \n';
      const { slots } = lines(text);
      expect(slots.map((s) => slotText(Buffer.from(text), s))).toEqual(['{"id":1}']);
    });

    it('treats a record split across lines as two bad lines', () => {
      const { slots } = lines('{"id":\n1}\n');
      expect(slots.map(code)).toEqual([Status.INVALID_JSON, Status.TRAILING_GARBAGE]);
    });

    it('handles a 200 KB record', () => {
      const big = `{"id":"big","blob":"${'x'.repeat(200 * 1024)}","n":[${'1,'.repeat(1000)}1]}`;
      const text = `{"id":1}\n${big}\n{"id":2}\n`;
      const { slots } = lines(text);
      expect(slots).toHaveLength(3);
      expect(slots[1]).toMatchObject({ offset: 9, length: big.length, status: Status.KEYED });
      expect(hashOf(slots[1]!)).toEqual(keyOf('"big"'));
    });

    it('leaves a partial last line unconsumed unless final', () => {
      const text = Buffer.from('{"id":1}\n{"id":2');
      const partial = callOnce(parser, text, Framing.Lines, { final: false });
      expect(partial.slots).toHaveLength(1);
      expect(partial.consumedEnd).toBe(9);
      const rest = callOnce(parser, text, Framing.Lines, { start: partial.consumedEnd, final: true });
      expect(rest.slots.map((s) => slotText(text, s))).toEqual(['{"id":2']);
      expect(code(rest.slots[0]!)).toBe(Status.INVALID_JSON);
      expect(rest.consumedEnd).toBe(text.length);
      const whitespaceTail = callOnce(parser, Buffer.from('{"id":1}\n  '), Framing.Lines, { final: false });
      expect(whitespaceTail.consumedEnd).toBe(9);
    });

    it('never reads past `end`', () => {
      const text = Buffer.from('{"id":1}\n{"id":2}\n{"id":3}\n');
      const cut = 14;
      const garbled = Buffer.concat([text.subarray(0, cut), Buffer.from('\n\xff\n', 'latin1')]);
      const a = callOnce(parser, text, Framing.Lines, { end: cut, final: true });
      const b = callOnce(parser, garbled, Framing.Lines, { end: cut, final: true });
      expect(b).toEqual(a);
      expect(a.slots.map((s) => [s.offset, s.length])).toEqual([
        [0, 8],
        [9, 5],
      ]);
    });

    it('gives identical slots with room for one slot per call', () => {
      const text = Buffer.from('{"id":1}\n\n[2]\n{"id":"x","ts":5}\n bad \n{"a":1}\n{"id":3');
      const big = parseAll(parser, text, Framing.Lines, { capacity: 1000 });
      const small = parseAll(parser, text, Framing.Lines, { capacity: 1 });
      expect(small).toEqual(big);
      expect(big.slots).toHaveLength(6);
      // Full `out` stops right after the slot that filled it.
      expect(callOnce(parser, text, Framing.Lines, { capacity: 1 }).consumedEnd).toBe(9);
      expect(callOnce(parser, text, Framing.Lines, { capacity: 0 }).consumedEnd).toBe(0);
    });
  });

  describe('rejects', () => {
    const reject = (text: string | Buffer) => code(one(text));

    it('invalid JSON', () => {
      for (const t of ['{"id":1,}', '{"id":01}', '{"id":tru}', '{id:1}', "{'id':1}", '{"id":1', '{"id":"\\x"}', '{"id":1.}', '{"id":-}']) {
        expect(reject(t), t).toBe(Status.INVALID_JSON);
      }
      expect(reject(Buffer.from('\xef\xbb\xbf{"id":1}', 'latin1'))).toBe(Status.INVALID_JSON);
      expect(reject(Buffer.from('{"id":1,\xc3\xa9:2}', 'latin1'))).toBe(Status.INVALID_JSON);
      expect(reject(Buffer.from('{"id":"\\\x01"}', 'latin1'))).toBe(Status.INVALID_JSON);
      expect(reject('{"id":"\f"}'.replace('\f', '\\f'))).toBe(Status.KEYED);
    });

    it('invalid UTF-8 inside strings', () => {
      const bad = ['c0 80', 'c1 bf', 'e0 80 80', 'ed a0 80', 'f4 90 80 80', 'f5 80 80 80', '80', 'bf', 'c3', 'e2 82', 'c3 28', 'ff', 'f0 8f bf bf'];
      for (const hex of bad) {
        const rec = Buffer.concat([Buffer.from('{"id":"a'), Buffer.from(hex.replaceAll(' ', ''), 'hex'), Buffer.from('z"}')]);
        expect(reject(rec), hex).toBe(Status.INVALID_UTF8);
      }
      const good = ['c2 80', 'df bf', 'e0 a0 80', 'ed 9f bf', 'ee 80 80', 'f0 90 80 80', 'f4 8f bf bf'];
      for (const hex of good) {
        const rec = Buffer.concat([Buffer.from('{"id":"'), Buffer.from(hex.replaceAll(' ', ''), 'hex'), Buffer.from('"}')]);
        expect(reject(rec), hex).toBe(Status.KEYED);
      }
    });

    it('raw control characters inside strings', () => {
      expect(reject(Buffer.from('{"id":"a\x01b"}', 'latin1'))).toBe(Status.CONTROL_CHAR);
      expect(reject(Buffer.from('{"id":"a\tb"}', 'latin1'))).toBe(Status.CONTROL_CHAR);
      expect(reject(Buffer.from('{"a\x1f":1}', 'latin1'))).toBe(Status.CONTROL_CHAR);
      expect(reject(Buffer.from('{"id":"\x7f"}', 'latin1'))).toBe(Status.KEYED);
    });

    it('a top level that is not an object', () => {
      for (const t of ['[1]', '"id"', '12', 'null', '[{"id":1}]']) expect(reject(t), t).toBe(Status.NOT_OBJECT);
    });

    it('trailing garbage', () => {
      for (const t of ['{"id":1} x', '{}{}', '{"id":1}]', '[1] 2', '01', '{"id":1} //']) expect(reject(t), t).toBe(Status.TRAILING_GARBAGE);
    });

    it('too large, judged on the trimmed length before anything else', () => {
      const small = factory.create(config(['id'], 'ts', 12));
      const run = (t: string) => parseAll(small, Buffer.from(t), Framing.Lines).slots.map((s) => [code(s), s.length]);
      expect(run('  {"id":12345}  \n{"id":123456}\n{"id":"\x01\x01\x01\x01"}\n[[[[[[[[[[[[[\n')).toEqual([
        [Status.KEYED, 12],
        [Status.TOO_LARGE, 13],
        [Status.TOO_LARGE, 13],
        [Status.TOO_LARGE, 13],
      ]);
    });

    it('too deep: MAX_DEPTH levels pass, one more fails', () => {
      const nest = (d: number) => '{"id":' + '['.repeat(d - 1) + ']'.repeat(d - 1) + '}';
      expect(reject(nest(MAX_DEPTH))).toBe(Status.KEYED);
      expect(reject(nest(MAX_DEPTH + 1))).toBe(Status.TOO_DEEP);
      expect(reject('{"a":' + '{"a":'.repeat(5000))).toBe(Status.TOO_DEEP);
    });

    it('the first bad byte names the reason', () => {
      expect(reject(Buffer.from('{"a":"\x01","b":"\xff"}', 'latin1'))).toBe(Status.CONTROL_CHAR);
      expect(reject(Buffer.from('{"a":"\xff","b":"\x01"}', 'latin1'))).toBe(Status.INVALID_UTF8);
      expect(reject(Buffer.from('{"a":"\xff",}', 'latin1'))).toBe(Status.INVALID_UTF8);
      expect(reject(Buffer.from('{"a":1,,"b":"\xff"}', 'latin1'))).toBe(Status.INVALID_JSON);
      expect(reject('[' + '['.repeat(MAX_DEPTH) + 'x')).toBe(Status.TOO_DEEP);
      expect(reject('[' + '['.repeat(MAX_DEPTH - 2) + 'x')).toBe(Status.INVALID_JSON);
      expect(reject('[1] x')).toBe(Status.TRAILING_GARBAGE);
    });

    it('writes NaN as the canonical quiet NaN', () => {
      const out = new Int32Array(2 * SLOT_WORDS);
      const state = new Float64Array(STATE_WORDS);
      const input = Buffer.from('{"id":1,"ts":"bad"}\n[1]\n');
      parser.parseChunk({ input, start: 0, end: input.length, framing: Framing.Lines, final: true, carryPhase: 0 }, out, state);
      expect(state[STATE_SLOTS]).toBe(2);
      for (const slot of [0, 1]) expect([out[slot * SLOT_WORDS], out[slot * SLOT_WORDS + 1]]).toEqual([0, 0x7ff80000]);
    });

    it('rejected slots carry no hash, no event time and no flags', () => {
      const { slots } = lines('{"id":1,"ts":"bad"} x\n[{"id":1}]\n');
      for (const s of slots) {
        expect(s.status & ~STATUS_CODE_MASK).toBe(0);
        expect(hashOf(s)).toEqual([0, 0]);
        expect(s.eventTime).toBeNaN();
      }
    });
  });
});
