import { createHash } from 'node:crypto';
import { fstatSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes hashed from a file's start: enough to tell two order logs apart, cheap to re-read. */
export const FINGERPRINT_BYTES = 1024;

/**
 * What makes a file "the same file": device and inode (survive renames), plus a
 * hash of its first bytes, because an inode is reused once a file is deleted
 * and a copy (logrotate copytruncate) has a new inode but the same content.
 */
export interface FileIdentity {
  /** `dev:ino`, as decimal strings (inodes may exceed 2^53). */
  readonly key: string;
  readonly nlink: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface Fingerprint {
  /** sha256 of the first `bytes` bytes, hex. */
  readonly hash: string;
  readonly bytes: number;
}

export function identityOfFd(fd: number): FileIdentity {
  const s = fstatSync(fd, { bigint: true });
  return { key: `${s.dev}:${s.ino}`, nlink: Number(s.nlink), size: Number(s.size), mtimeMs: Number(s.mtimeMs) };
}

/** undefined when the path does not exist (or is not a regular file). */
export function identityOfPath(path: string): FileIdentity | undefined {
  try {
    const s = statSync(path, { bigint: true });
    if (!s.isFile()) return undefined;
    return { key: `${s.dev}:${s.ino}`, nlink: Number(s.nlink), size: Number(s.size), mtimeMs: Number(s.mtimeMs) };
  } catch {
    return undefined;
  }
}

/** The path in `dir` whose device and inode are `identity`, if any: where a file was renamed to beside its old name. */
export function findByIdentity(dir: string, identity: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (identityOfPath(path)?.key === identity) return path;
  }
  return undefined;
}

/** Hash of the first min(limit, size) bytes of an open file. */
export function fingerprintOf(fd: number, limit = FINGERPRINT_BYTES): Fingerprint {
  const head = headBytes(fd, limit);
  return { hash: fingerprintHash(head), bytes: head.length };
}

/**
 * A file shorter than this is not compared with others as a possible copy;
 * a copy and its original share at least their first LEAD_BYTES bytes, so
 * files are indexed by the hash of those (FileCursor.lead) to find candidates.
 */
export const LEAD_BYTES = 64;

/**
 * A file's head as hashed when it is opened or grows: its fingerprint, its lead
 * (the hash of its first LEAD_BYTES bytes; undefined while it is shorter), and
 * `written`, the hash of the bytes before its first NUL (the fingerprint itself
 * when there is none): a preallocated or sparse file is written over its NULs in
 * place, so only what precedes them has to stay as it was.
 */
export interface FileHead {
  readonly fingerprint: Fingerprint;
  readonly lead: string | undefined;
  readonly written: Fingerprint;
}

/** A file's head (FileHead), from one read. */
export function headOf(fd: number): FileHead {
  return headFrom(headBytes(fd, FINGERPRINT_BYTES), undefined);
}

/**
 * Re-read a file's head after it grew: what it is now, or undefined when the
 * bytes `known.written` was taken from are not at its start any more
 * (overwritten, or truncated and written past the size seen between two
 * looks). A lead once taken is kept (its bytes are among those checked, or are
 * NULs being written over).
 */
export function headAfterGrowth(fd: number, known: FileHead): { head: FileHead; bytes: Buffer } | undefined {
  const head = headBytes(fd, FINGERPRINT_BYTES);
  const written = known.written;
  if (head.length < written.bytes || fingerprintHash(head.subarray(0, written.bytes)) !== written.hash) return undefined;
  // Past FINGERPRINT_BYTES an appended file's head stays as it was: nothing to hash again.
  if (head.length === known.fingerprint.bytes && written === known.fingerprint) return { head: known, bytes: head };
  return { head: headFrom(head, known.lead), bytes: head };
}

/** A head of FINGERPRINT_BYTES without NULs: an appended file's stays as it is. */
export function isCompleteHead(head: FileHead): boolean {
  return head.fingerprint.bytes >= FINGERPRINT_BYTES && head.written === head.fingerprint;
}

const headScratch = Buffer.alloc(FINGERPRINT_BYTES);

/** Does the file at `fd` still start with `copy` (at most FINGERPRINT_BYTES bytes)? One read, one compare. */
export function startsWith(fd: number, copy: Buffer): boolean {
  return readHead(fd, headScratch, copy.length).equals(copy);
}

function headFrom(head: Buffer, lead: string | undefined): FileHead {
  const fingerprint = { hash: fingerprintHash(head), bytes: head.length };
  const firstNul = head.indexOf(0);
  return {
    fingerprint,
    lead: lead ?? (head.length >= LEAD_BYTES ? fingerprintHash(head.subarray(0, LEAD_BYTES)) : undefined),
    written: firstNul < 0 ? fingerprint : { hash: fingerprintHash(head.subarray(0, firstNul)), bytes: firstNul },
  };
}

/** The first min(limit, size) bytes of an open file. */
export function headBytes(fd: number, limit: number): Buffer {
  return readHead(fd, Buffer.allocUnsafe(limit), limit);
}

/** The first min(limit, size) bytes of an open file, read into `into`. */
function readHead(fd: number, into: Buffer, limit: number): Buffer {
  let n = 0;
  while (n < limit) {
    const got = readSync(fd, into, n, limit - n, n);
    if (got === 0) break;
    n += got;
  }
  return into.subarray(0, n);
}

/** A fingerprint's hash of these bytes. */
export function fingerprintHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.bytes === b.bytes && a.hash === b.hash;
}
