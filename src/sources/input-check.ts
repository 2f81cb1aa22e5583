import { closeSync, openSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { GLOB_SYNTAX } from '../config/glob-syntax.js';
import { compressedMessage, compressionOf } from './encoding-check.js';


/** What is at an input path right now, as far as reading it goes. */
export type InputStatus =
  | { kind: 'file' }
  | { kind: 'missing' }
  | { kind: 'not-file'; what: string }
  | { kind: 'error'; code: string; message: string };

/**
 * Open and stat failures that can go away without anyone touching the input:
 * descriptors freed (EMFILE, ENFILE), permissions fixed (EACCES, EPERM), a busy
 * or slow device. A file that hit one of these is retried, never skipped.
 */
const TRANSIENT_CODES = new Set(['EMFILE', 'ENFILE', 'EACCES', 'EPERM', 'EAGAIN', 'EBUSY', 'ENOMEM', 'EIO', 'ETIMEDOUT', 'ESTALE']);

export function isTransientOpenError(code: string | undefined): boolean {
  return code !== undefined && TRANSIENT_CODES.has(code);
}

export function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Symbolic links followed, as opening the path would. */
export function inputStatus(path: string): InputStatus {
  let s: Stats | undefined;
  try {
    s = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    return { kind: 'error', code: errnoCode(err), message: err instanceof Error ? err.message : String(err) };
  }
  if (!s) return { kind: 'missing' };
  return s.isFile() ? { kind: 'file' } : { kind: 'not-file', what: kindOf(s) };
}

/** compressionOf a file by its path (undefined when it cannot be opened: reading it reports that). */
function compressionOfPath(path: string): ReturnType<typeof compressionOf> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return compressionOf(fd);
  } finally {
    closeSync(fd);
  }
}

/** Said where standard input or a pipe is given as an input. */
const NOT_A_STREAM = 'standard input and pipes are not read (ranges are re-read from file offsets, for parallel parsing and checkpoints): write the stream to a file and give that file, which is followed as it grows';

/** What to give instead of a directory (a glob of its files) or a stream (a file it is written to). */
function whatInstead(pattern: string, what: string): string {
  if (what === 'a directory') return ` (a glob such as ${pattern.replace(/\/+$/, '')}/*.ndjson reads the files in it)`;
  return what === 'a FIFO' || what === 'a character device' ? `; ${NOT_A_STREAM}` : '';
}

/**
 * `once` reads what exists now, so an explicit input (a path, not a glob) that
 * is not a readable regular file can only be a mistake: a usage error before
 * anything is read or written. Transient failures (EACCES, EMFILE, …) are not
 * raised here: the pipeline retries those and reports what it could not read.
 */
export function checkOnceInputs(patterns: readonly string[]): void {
  for (const pattern of patterns) {
    if (GLOB_SYNTAX.test(pattern)) continue;
    const path = isAbsolute(pattern) ? pattern : resolve(pattern);
    const status = inputStatus(path);
    switch (status.kind) {
      case 'file': {
        const compression = compressionOfPath(path);
        if (compression) throw new ConfigError(`input ${compressedMessage(pattern, compression, false)}`, 'input');
        break;
      }
      case 'missing':
        throw new ConfigError(`input ${pattern}: no such file (with --once only files that exist are read)${pattern === '-' ? `; ${NOT_A_STREAM}` : ''}`, 'input');
      case 'not-file':
        throw new ConfigError(`input ${pattern}: is ${status.what}, not a regular file${whatInstead(pattern, status.what)}`, 'input');
      case 'error':
        if (!isTransientOpenError(status.code)) throw new ConfigError(`input ${pattern}: cannot be opened (${status.message})`, 'input');
    }
  }
}
