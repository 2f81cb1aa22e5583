/**
 * Structural skipping of one Array-framing element: finds the depth-0 ',' or
 * ']' that ends it by tracking only strings, escapes and bracket depth, never
 * validating. The parser uses it to resynchronise after a bad element; a
 * worker uses it to step over an element too large to buffer, chunk by chunk:
 *
 *   let st = SKIP_START;
 *   r = skipArrayElement(buf, elementStart, end, st)
 *   r >= 0: buf[r] is the ',' or ']' ending the element (not consumed). The
 *           worker emits TOO_LARGE for [elementStart, r trimmed of whitespace)
 *           and resumes the parser at r with carryPhase = ArrayPhase.AfterElement.
 *   r < 0:  the chunk ran out; call again on the next chunk's bytes with
 *           st = skipResumeState(r).
 *
 * State encoding (a non-negative integer below 2^53, so it fits a Float64
 * state word and a Rust u64 alike):
 *   state & 1              inside a string
 *   state & 2              inside a string, just after a backslash
 *   Math.floor(state / 4)  brackets ([ or {, not told apart) open and unclosed
 * Closing brackets at depth 0 other than ']' (a stray '}') are ignored.
 */
import { Ch } from './byte-classes.js';

export const SKIP_START = 0;

const enum Bit {
  IN_STRING = 1,
  ESCAPED = 2,
  DEPTH_UNIT = 4,
}

/** See the module comment for the meaning of the result and of `state`. */
export function skipArrayElement(buf: Uint8Array, pos: number, end: number, state: number): number {
  let inString = (state & Bit.IN_STRING) !== 0;
  let escaped = (state & Bit.ESCAPED) !== 0;
  let depth = (state - (state % Bit.DEPTH_UNIT)) / Bit.DEPTH_UNIT;
  while (pos < end) {
    const c = buf[pos]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === Ch.BACKSLASH) escaped = true;
      else if (c === Ch.QUOTE) inString = false;
    } else if (c === Ch.QUOTE) {
      inString = true;
    } else if (c === Ch.LBRACKET || c === Ch.LBRACE) {
      depth++;
    } else if (c === Ch.RBRACKET || c === Ch.RBRACE) {
      if (depth > 0) depth--;
      else if (c === Ch.RBRACKET) return pos;
    } else if (c === Ch.COMMA && depth === 0) {
      return pos;
    }
    pos++;
  }
  const resume = depth * Bit.DEPTH_UNIT + (escaped ? Bit.ESCAPED : 0) + (inString ? Bit.IN_STRING : 0);
  return -resume - 1;
}

/** The state to pass to the next skipArrayElement call after a negative result. */
export function skipResumeState(result: number): number {
  return -result - 1;
}
