/**
 * A UTF-8 byte-order mark (EF BB BF) at the very start of an input file is
 * not data: editors and Windows programs (.NET's UTF-8 encoder among them)
 * write it, and log shippers drop it. The parser contract still refuses a BOM
 * inside a record (RFC 8259 lets a parser refuse one, and a record is not a
 * file); the range parser and the framing sniff skip one at file offset 0
 * only, so a file's first record is not dead-lettered for it.
 */
const UTF8_BOM_BYTES = 3;

/** Bytes to skip at the start of `buf`, which holds `filled` bytes of a file from `fileStart`: 3 for a BOM at offset 0, else 0. */
export function byteOrderMarkLength(buf: Uint8Array, filled: number, fileStart: number): number {
  return fileStart === 0 && filled >= UTF8_BOM_BYTES && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? UTF8_BOM_BYTES : 0;
}
