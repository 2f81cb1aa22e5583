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
  let n: number;
  try {
    n = readSync(fd, head, 0, 4, 0);
  } catch {
    // Reading it reports the problem.
    return undefined;
  }
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
