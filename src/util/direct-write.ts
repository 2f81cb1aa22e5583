/**
 * The native addon's O_DIRECT writer for a file sink (native/src/direct_write.rs
 * says why and how): batches copied into aligned buffers on the libuv pool and
 * written behind the caller by a thread of the addon's own.
 */
import { loadNativeAddon } from '../parser/native.js';

export interface DirectWriter {
  /** False where the file system refused O_DIRECT: the same writes go through the page cache. */
  readonly direct: boolean;
  /** Resolves to 0 once `chunks` are copied (they may then be reused), or to an errno. */
  submit(chunks: Uint8Array[]): Promise<number>;
  /** submit() of `count` runs, triples in `runs`: index into `sources`, start, end. Throws on a run outside its source. */
  submitRuns(sources: Uint8Array[], runs: Uint32Array, count: number): Promise<number>;
  /**
   * submitRuns() on this thread when the copy cannot wait for the device (no
   * flush under way, a free buffer for every one it fills): 0 or an errno
   * once copied; -1 when it might wait, nothing copied. Absent from addons
   * built before it.
   */
  trySubmitRuns?(sources: Uint8Array[], runs: Uint32Array, count: number): number;
  /** The same on this thread, for one chunk: 0 or an errno. */
  submitNow(chunk: Uint8Array): number;
  /** Every byte submitted in the file (with `sync`, on disk): 0 or an errno. */
  flush(sync: boolean): Promise<number>;
  /** Stops the writer thread; flush first. */
  close(): void;
}

type DirectWriterClass = new (path: string, size: number, buffers: number, bufferBytes: number) => DirectWriter;

/**
 * One buffer fills while the others are on their way to the device; batches
 * accumulate while the device is busy, so each write is a full buffer. 4 × 2
 * MiB measured as fast as 3 × 4 MiB with less resident, and 3 × 2 MiB within
 * the noise of both (bench/RESULTS.md, 2026-12-05).
 */
const DIRECT_BUFFERS = 4;
/** A multiple of the 4 KiB block; a batch larger than one buffer is split. */
const DIRECT_BUFFER_BYTES = 2 * 1024 * 1024;

/** A writer appending to `path` after its `size` bytes, or undefined (no addon, or one built before it existed). */
export function openDirectWriter(path: string, size: number): DirectWriter | undefined {
  const loaded = loadNativeAddon();
  if ('error' in loaded) return undefined;
  const Writer = (loaded.addon as { NativeDirectWriter?: unknown }).NativeDirectWriter;
  if (typeof Writer !== 'function') return undefined;
  return new (Writer as DirectWriterClass)(path, size, DIRECT_BUFFERS, DIRECT_BUFFER_BYTES);
}
