/**
 * Top-level fields of a record, found in its text without parsing it whole:
 * the broadcaster matches on two of them and keeps a subscription's fields as
 * their original bytes (a number written 1.50 stays 1.50, a 20-digit id is
 * not rounded), as the engine emits every record as its original bytes.
 * Records reaching it were accepted by the parser: valid JSON objects.
 */
import { Ch } from '../parser/js/byte-classes.js';

export interface FieldSpan {
  readonly key: string;
  /** The value's text is record.slice(start, end). */
  readonly start: number;
  readonly end: number;
}

const isSpace = (c: number): boolean => c === Ch.SPACE || c === Ch.LF || c === Ch.CR || c === Ch.TAB;

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** `i` at an opening quote: the index after the closing one, or -1. */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === Ch.BACKSLASH) j++;
    else if (c === Ch.QUOTE) return j + 1;
  }
  return -1;
}

function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === Ch.QUOTE) return stringEnd(text, i);
  if (first === Ch.LBRACE || first === Ch.LBRACKET) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === Ch.QUOTE) {
        const end = stringEnd(text, j);
        if (end < 0) return -1;
        j = end - 1;
      } else if (c === Ch.LBRACE || c === Ch.LBRACKET) depth++;
      else if ((c === Ch.RBRACE || c === Ch.RBRACKET) && --depth === 0) return j + 1;
    }
    return -1;
  }
  let j = i;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c === Ch.COMMA || c === Ch.RBRACE || isSpace(c)) break;
    j++;
  }
  return j > i ? j : -1;
}

/** The record's top-level fields in their order, or undefined when it is not a JSON object. */
export function topLevelFields(text: string): FieldSpan[] | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== Ch.LBRACE) return undefined;
  i = skipSpace(text, i + 1);
  const fields: FieldSpan[] = [];
  if (text.charCodeAt(i) === Ch.RBRACE) return fields;
  for (;;) {
    if (text.charCodeAt(i) !== Ch.QUOTE) return undefined;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return undefined;
    const raw = text.slice(i, keyEnd);
    const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== Ch.COLON) return undefined;
    const start = skipSpace(text, i + 1);
    const end = valueEnd(text, start);
    if (end < 0) return undefined;
    fields.push({ key, start, end });
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === Ch.RBRACE) return fields;
    if (c !== Ch.COMMA) return undefined;
    i = skipSpace(text, i + 1);
  }
}

/** A string field's value (the last occurrence, as JSON.parse reads duplicates); undefined when absent or not a string. */
export function stringField(text: string, fields: readonly FieldSpan[], key: string): string | undefined {
  for (let k = fields.length - 1; k >= 0; k--) {
    const f = fields[k]!;
    if (f.key !== key) continue;
    if (text.charCodeAt(f.start) !== Ch.QUOTE) return undefined;
    const raw = text.slice(f.start, f.end);
    return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  }
  return undefined;
}

/** The record with only `keep`'s fields, in the record's order, values as written. */
export function project(text: string, fields: readonly FieldSpan[], keep: ReadonlySet<string>): string {
  // Duplicate keys: the last wins, as for JSON.parse.
  const last = new Map<string, FieldSpan>();
  for (const f of fields) if (keep.has(f.key)) last.set(f.key, f);
  let out = '{';
  for (const f of fields) {
    if (last.get(f.key) !== f) continue;
    if (out.length > 1) out += ',';
    out += JSON.stringify(f.key) + ':' + text.slice(f.start, f.end);
  }
  return out + '}';
}

/** project() on a record's text. */
export function projectRecord(text: string, keep: ReadonlySet<string>): string {
  const fields = topLevelFields(text);
  return fields ? project(text, fields, keep) : text;
}
