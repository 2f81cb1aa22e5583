/**
 * skipArrayElement: finds the depth-0 ',' or ']' that ends an Array-framing
 * element, tracking only strings, escapes and brackets, resumable at any byte.
 */
import { describe, expect, it } from 'vitest';
import { SKIP_START, skipArrayElement, skipResumeState } from '../dist/src/parser/js-parser.js';

const skip = (text: string, state = SKIP_START) => skipArrayElement(Buffer.from(text), 0, Buffer.byteLength(text), state);

/** Skips `text` fed in pieces ending at the given cuts; returns the delimiter index in the whole text, or -1. */
function skipInPieces(text: Buffer, cuts: number[]): number {
  let state = SKIP_START;
  let from = 0;
  for (const to of [...cuts, text.length]) {
    const r = skipArrayElement(text, from, to, state);
    if (r >= 0) return r;
    state = skipResumeState(r);
    from = to;
  }
  return -1;
}

describe('skipArrayElement', () => {
  it('stops at the first depth-0 comma or closing bracket', () => {
    expect(skip('{"a":1},{"b":2}')).toBe(7);
    expect(skip('12 ]')).toBe(3);
    expect(skip(',')).toBe(0);
    expect(skip('[1,[2,3],{"x":[,]}] ,')).toBe(20);
  });

  it('ignores delimiters and brackets inside strings, including after escapes', () => {
    expect(skip('"a,]\\",[{" , 1')).toBe(11);
    expect(skip('{"k\\\\":"]"}]')).toBe(11);
  });

  it('ignores a stray closing brace at depth 0 but not a bracket', () => {
    expect(skip('} } ,')).toBe(4);
    expect(skip('{]} ]')).toBe(4);
  });

  it('encodes depth, string and escape in its resume state', () => {
    expect(skipResumeState(skip(''))).toBe(0);
    expect(skipResumeState(skip('{"a":[1'))).toBe(2 * 4);
    expect(skipResumeState(skip('{"a":"x'))).toBe(4 + 1);
    expect(skipResumeState(skip('{"a":"x\\'))).toBe(4 + 1 + 2);
    expect(skipResumeState(skip('[[[[[[[[[['))).toBe(40);
  });

  it('resumes at every split point with the same result', () => {
    const text = Buffer.from('{"a":"x\\"],","b":[[{"c":"\\\\"}],"é,"]} , 7]');
    const whole = skipInPieces(text, []);
    expect(whole).toBe(text.indexOf(' , ') + 1);
    for (let a = 0; a <= text.length; a++) {
      expect(skipInPieces(text, [a]), `cut ${a}`).toBe(whole);
      for (let b = a; b <= text.length; b += 5) expect(skipInPieces(text, [a, b]), `cuts ${a},${b}`).toBe(whole);
    }
  });

  it('keeps counting past int32 depths in its state', () => {
    const deep = 2 ** 40;
    const r = skipArrayElement(Buffer.from(']]'), 0, 2, deep * 4);
    expect(skipResumeState(r)).toBe((deep - 2) * 4);
  });
});
