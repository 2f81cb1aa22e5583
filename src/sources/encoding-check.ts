import { readSync } from 'node:fs';

/**
 * The encoding a file's byte-order mark names when it is one ordertail does
 * not read (UTF-16 or UTF-32, as PowerShell's `>` and Windows "Unicode"
 * exports write), else undefined. Such a file's records are all rejected
 * (invalid_json, invalid_utf8, control_char): the engine warns as it opens
 * one, naming the encoding, so the cause is not left to be guessed from dead
 * letters.
 */
export function foreignByteOrderMark(fd: number): string | undefined {
  const head = Buffer.alloc(4);
  const n = readHead(fd, head);
  // UTF-32LE's mark starts with UTF-16LE's: the longer one first.
  if (n >= 4 && head[0] === 0xff && head[1] === 0xfe && head[2] === 0 && head[3] === 0) return 'UTF-32LE';
  if (n >= 4 && head[0] === 0 && head[1] === 0 && head[2] === 0xfe && head[3] === 0xff) return 'UTF-32BE';
  if (n >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'UTF-16LE';
  if (n >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'UTF-16BE';
  return undefined;
}

export function notUtf8Message(path: string, encoding: string): string {
  return `${path} starts with a ${encoding} byte-order mark: ordertail reads UTF-8, so its records will be rejected (convert it first, e.g. iconv -f ${encoding} -t UTF-8)`;
}

/** The first bytes of `fd` into `head`; 0 when they cannot be read (reading the file reports that). */
function readHead(fd: number, head: Buffer): number {
  try {
    return readSync(fd, head, 0, head.length, 0);
  } catch {
    return 0;
  }
}

/** Magic numbers of the compressors rotated logs go through (logrotate `compress` and its `compresscmd`s). */
const COMPRESSED: readonly [string, readonly number[], string][] = [
  ['gzip', [0x1f, 0x8b], 'zcat'],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd], 'zstdcat'],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xzcat'],
  ['bzip2', [0x42, 0x5a, 0x68], 'bzcat'],
  ['lz4', [0x04, 0x22, 0x4d, 0x18], 'lz4cat'],
];

/**
 * The compressor whose format a file is in (its magic number), else undefined.
 * A glob such as `app.log*` that follows logrotate's renames also matches the
 * `.gz` files its `compress` makes: read as text, each would be a stream of
 * rejected garbage (and its records were read before, uncompressed).
 */
export function compressionOf(fd: number): { format: string; decompress: string } | undefined {
  const head = Buffer.alloc(6);
  const n = readHead(fd, head);
  for (const [format, magic, decompress] of COMPRESSED) {
    if (n >= magic.length && magic.every((b, i) => head[i] === b)) return { format, decompress };
  }
  return undefined;
}

export function compressedMessage(path: string, compression: { format: string; decompress: string }, matchedByGlob: boolean): string {
  const instead = matchedByGlob
    ? `not read (a rotated log's records were read before it was compressed). Leave it out of the input glob, or give ${compression.decompress}'s output as a file to read`
    : `ordertail reads plain NDJSON or JSON: give ${compression.decompress}'s output as a file to read (${compression.decompress} ${path} > ${path.replace(/\.[^./]+$/, '')}.ndjson)`;
  return `${path} is ${compression.format}-compressed: ${instead}`;
}
