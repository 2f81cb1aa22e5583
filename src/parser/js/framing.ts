/**
 * Where records are: the three framing modes walk a chunk, hand each record's
 * bytes to the RecordClassifier and write one slot per record. Each returns
 * the number of slots written and fills state[] (consumedEnd, carry phase).
 * All of them return as soon as `out` is full (checked before every step),
 * so nothing after the terminator of the record that filled it is consumed.
 */
import { ArrayPhase, STATE_CARRY_PHASE, STATE_CONSUMED_END, Status } from '../contract.js';
import { SKIP_START, skipArrayElement } from './array-skip.js';
import { Ch, IS_WS } from './byte-classes.js';
import type { RecordClassifier } from './record.js';

function trimEnd(buf: Buffer, s: number, e: number): number {
  while (e > s && IS_WS[buf[e - 1]!] === 1) e--;
  return e;
}

function skipWs(buf: Buffer, p: number, end: number): number {
  while (p < end && IS_WS[buf[p]!] === 1) p++;
  return p;
}

/** LF-separated records; rec.buf ends at the chunk end, so indexOf cannot run past it. */
export function parseLines(
  rec: RecordClassifier, start: number, end: number, final: boolean,
  out: Int32Array, cap: number, state: Float64Array,
): number {
  const buf = rec.buf;
  let pos = start;
  let n = 0;
  while (pos < end && n < cap) {
    // Buffer#indexOf is a native memchr, an order of magnitude faster than a JS loop.
    const lf = buf.indexOf(Ch.LF, pos);
    let next: number;
    let e: number;
    if (lf >= 0) {
      e = lf;
      next = lf + 1;
    } else if (final) {
      e = end;
      next = end;
    } else break;
    // Lines hold no LF, so the whitespace table trims exactly space, tab and CR.
    const s = skipWs(buf, pos, e);
    e = trimEnd(buf, s, e);
    pos = next;
    if (s === e) continue;
    rec.classify(s, e);
    rec.write(out, n++, s, e - s);
  }
  state[STATE_CONSUMED_END] = pos;
  state[STATE_CARRY_PHASE] = ArrayPhase.BeforeArray;
  return n;
}

/** All of [start, end) is one record; without `final` nothing is consumed. */
export function parseSingle(
  rec: RecordClassifier, start: number, end: number, final: boolean,
  out: Int32Array, cap: number, state: Float64Array,
): number {
  const buf = rec.buf;
  let n = 0;
  let consumed = start;
  if (final && cap > 0) {
    const s = skipWs(buf, start, end);
    const e = trimEnd(buf, s, end);
    if (s < e) {
      rec.classify(s, e);
      rec.write(out, n++, s, e - s);
    }
    consumed = end;
  }
  state[STATE_CONSUMED_END] = consumed;
  state[STATE_CARRY_PHASE] = ArrayPhase.BeforeArray;
  return n;
}

/** Elements of one top-level array, resumable at any byte via `phase`. */
export function parseArray(
  rec: RecordClassifier, start: number, end: number, final: boolean, phase: number,
  out: Int32Array, cap: number, state: Float64Array,
): number {
  const buf = rec.buf;
  const max = rec.maxRecordBytes;
  let pos = start;
  let n = 0;
  while (n < cap) {
    const p = skipWs(buf, pos, end);
    if (p >= end) {
      pos = end;
      break;
    }
    const c = buf[p]!;
    if (phase === ArrayPhase.BeforeArray || phase === ArrayPhase.Done) {
      if (phase === ArrayPhase.BeforeArray && c === Ch.LBRACKET) {
        pos = p + 1;
        phase = ArrayPhase.FirstElement;
        continue;
      }
      // Not an array, or bytes after its ']': the rest of this chunk is one
      // rejected slot, and from then on only whitespace is expected.
      const e = trimEnd(buf, p, end);
      rec.reject(e - p > max ? Status.TOO_LARGE : phase === ArrayPhase.Done ? Status.TRAILING_GARBAGE : Status.INVALID_JSON);
      rec.write(out, n++, p, e - p);
      pos = end;
      phase = ArrayPhase.Done;
      continue;
    }
    if (c === Ch.RBRACKET && phase !== ArrayPhase.NextElement) {
      pos = p + 1;
      phase = ArrayPhase.Done;
      continue;
    }
    if (c === Ch.COMMA && phase === ArrayPhase.AfterElement) {
      pos = p + 1;
      phase = ArrayPhase.NextElement;
      continue;
    }
    let reason: number = Status.TRAILING_GARBAGE;
    if (phase !== ArrayPhase.AfterElement) {
      // Past max bytes the verdict is TOO_LARGE whatever follows, so stop validating there.
      const r = rec.scan(p, Math.min(end, p + max + 1));
      if (r >= 0) {
        const q = skipWs(buf, r, end);
        const d = q < end ? buf[q]! : -1;
        if (d === Ch.COMMA || d === Ch.RBRACKET || (q >= end && final)) {
          if (r - p > max) rec.reject(Status.TOO_LARGE);
          else rec.acceptValue(p);
          rec.write(out, n++, p, r - p);
          pos = q >= end ? end : q + 1;
          phase = d === Ch.COMMA ? ArrayPhase.NextElement : d === Ch.RBRACKET ? ArrayPhase.Done : ArrayPhase.AfterElement;
          continue;
        }
        // Complete value but its delimiter is in a later chunk: wait for it.
        if (q >= end) {
          pos = p;
          break;
        }
      } else reason = -r;
    }
    // Bad element (or garbage after one): it runs to the next depth-0 ',' or ']'.
    const k = skipArrayElement(buf, p, end, SKIP_START);
    if (k < 0 && !final) {
      pos = p;
      break;
    }
    const e = trimEnd(buf, p, k < 0 ? end : k);
    rec.reject(e - p > max ? Status.TOO_LARGE : reason);
    rec.write(out, n++, p, e - p);
    if (k < 0) {
      pos = end;
      phase = ArrayPhase.AfterElement;
    } else {
      pos = k + 1;
      phase = buf[k] === Ch.COMMA ? ArrayPhase.NextElement : ArrayPhase.Done;
    }
  }
  state[STATE_CONSUMED_END] = pos;
  state[STATE_CARRY_PHASE] = phase;
  return n;
}
