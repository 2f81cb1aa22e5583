/**
 * Byte lookup tables and byte constants shared by the scanners. A single
 * indexed load from a 256-entry table replaces chains of comparisons in the
 * hot loops; `const enum` members are inlined by tsc, so the hot loops compare
 * against literals instead of loading imported bindings.
 */

/** Class of a byte inside a string; PLAIN needs no further look. */
export const enum Str {
  PLAIN = 0,
  QUOTE = 1,
  BACKSLASH = 2,
  CONTROL = 3,
  HIGH = 4,
}

export const enum Ch {
  TAB = 0x09,
  LF = 0x0a,
  CR = 0x0d,
  SPACE = 0x20,
  QUOTE = 0x22,
  PLUS = 0x2b,
  COMMA = 0x2c,
  MINUS = 0x2d,
  DOT = 0x2e,
  SLASH = 0x2f,
  D0 = 0x30,
  D9 = 0x39,
  COLON = 0x3a,
  UPPER_E = 0x45,
  LBRACKET = 0x5b,
  BACKSLASH = 0x5c,
  RBRACKET = 0x5d,
  LOWER_E = 0x65,
  LOWER_F = 0x66,
  LOWER_N = 0x6e,
  LOWER_T = 0x74,
  LOWER_U = 0x75,
  LBRACE = 0x7b,
  RBRACE = 0x7d,
}

export const STRING_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 0x20; b++) t[b] = Str.CONTROL;
  for (let b = 0x80; b < 0x100; b++) t[b] = Str.HIGH;
  t[Ch.QUOTE] = Str.QUOTE;
  t[Ch.BACKSLASH] = Str.BACKSLASH;
  return t;
})();

/** JSON whitespace (space, tab, CR, LF) → 1. */
export const IS_WS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[Ch.SPACE] = 1;
  t[Ch.TAB] = 1;
  t[Ch.CR] = 1;
  t[Ch.LF] = 1;
  return t;
})();

/** Characters legal after a backslash: the eight simple escapes and 'u'. */
export const ESCAPE_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const c of '"\\/bfnrt') t[c.charCodeAt(0)] = 1;
  t[Ch.LOWER_U] = 2;
  return t;
})();

/** Hex digit → 1 (no decoding needed: the scanner validates, never unescapes). */
export const IS_HEX: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const c of '0123456789abcdefABCDEF') t[c.charCodeAt(0)] = 1;
  return t;
})();

/** JSON digit → 1. */
export const IS_DIGIT: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = Ch.D0; b <= Ch.D9; b++) t[b] = 1;
  return t;
})();
