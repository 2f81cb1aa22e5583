/** Spans shorter than this are searched byte by byte: a subarray for indexOf costs more than a short line's bytes. */
const SEARCH_NATIVELY_FROM = 256;

/** Index of the first `byte` within buffer [from, end), or -1 (Uint8Array.indexOf has no end: it would search the whole buffer). */
export function indexOfByte(buf: Uint8Array, byte: number, from: number, end: number): number {
  if (end - from >= SEARCH_NATIVELY_FROM) {
    const i = buf.subarray(from, end).indexOf(byte);
    return i < 0 ? -1 : from + i;
  }
  for (let i = from; i < end; i++) if (buf[i] === byte) return i;
  return -1;
}
