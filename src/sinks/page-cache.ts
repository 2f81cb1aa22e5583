/**
 * What the file sink does with the page cache of output it has written back:
 * 'drop' (default) evicts each stretch once an fdatasync has put it on disk,
 * one writeback stretch behind the end of the file, so a reader following the
 * output still finds the newest megabytes cached; 'keep' leaves the kernel to
 * decide. A replay writes gigabytes nobody reads back at once: cached, they
 * push out the input logs, and every new page is a fresh allocation (on the
 * shared VM, most of a write's cost; see native/src/writeback.rs).
 *
 * Dropping needs posix_fadvise, which Node does not expose: it is the native
 * addon's `writeBackAndDrop` (fdatasync + POSIX_FADV_DONTNEED on the libuv
 * pool). Without the addon, 'drop' writes back as 'keep' does.
 */
import { getSystemErrorName } from 'node:util';
import { loadNativeAddon } from '../parser/native.js';

export type SinkPageCache = 'drop' | 'keep';

/** fdatasync(fd), then drop [from, to) from the page cache; resolves to 0 or the fdatasync's errno. */
export type WriteBackAndDrop = (fd: number, from: number, to: number) => Promise<number>;

/** The addon's writeBackAndDrop, or undefined (no addon, or one built before it existed). */
export function nativeWriteBackAndDrop(): WriteBackAndDrop | undefined {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return undefined;
  const fn = (loaded.addon as { writeBackAndDrop?: unknown }).writeBackAndDrop;
  return typeof fn === 'function' ? (fn as WriteBackAndDrop) : undefined;
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
