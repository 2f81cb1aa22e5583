/**
 * Writing a file back to disk and dropping the written stretch from the page
 * cache, in one call on the libuv pool: the native addon's `writeBackAndDrop`
 * (fdatasync + POSIX_FADV_DONTNEED; native/src/writeback.rs says why).
 * Node has no posix_fadvise, so without the addon there is none.
 */
import { getSystemErrorName } from 'node:util';
import { loadNativeAddon } from '../parser/native.js';

/** fdatasync(fd), then drop [from, to) from the page cache; resolves to 0 or the fdatasync's errno. */
export type WriteBackAndDrop = (fd: number, from: number, to: number) => Promise<number>;

/** The addon's writeBackAndDrop, or undefined (no addon, or one built before it existed). */
export function nativeWriteBackAndDrop(): WriteBackAndDrop | undefined {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return undefined;
  const fn = (loaded.addon as { writeBackAndDrop?: unknown }).writeBackAndDrop;
  return typeof fn === 'function' ? (fn as WriteBackAndDrop) : undefined;
}

/** An exclusive, non-blocking flock on an open file: 0, or the errno (EWOULDBLOCK: another open file of it holds one). */
export type TryLockExclusive = (fd: number) => number;

/** The addon's tryLockExclusive, or undefined (no addon, or one built before it existed): Node has no flock. */
export function nativeTryLockExclusive(): TryLockExclusive | undefined {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return undefined;
  const fn = (loaded.addon as { tryLockExclusive?: unknown }).tryLockExclusive;
  return typeof fn === 'function' ? (fn as TryLockExclusive) : undefined;
}

/** An errno from the addon as the Error Node's fs would have given. */
export function errnoError(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(-Math.abs(errno));
  } catch {
    code = `errno ${errno}`;
  }
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { errno: -Math.abs(errno), code, syscall, path });
}
