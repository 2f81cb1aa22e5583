import { closeSync, fdatasync, fstatSync, ftruncateSync, fsync, openSync, readlinkSync, statSync, truncateSync, writeSync, writev, writevSync } from 'node:fs';
import { constants } from 'node:os';
import { promisify } from 'node:util';
import { CheckpointError } from '../checkpoint/errors.js';
import { identityOfFd, identityOfPath } from '../checkpoint/identity.js';
import { openDirectWriter, type DirectWriter } from '../util/direct-write.js';
import { errnoError, nativeTryLockExclusive, nativeWriteBackAndDrop, type TryLockExclusive, type WriteBackAndDrop } from '../util/write-back.js';
import type { SinkPageCache } from './page-cache.js';
import type { Sink } from './sink.js';

const fsyncAsync = promisify(fsync);
const errnos = constants.errno;

/**
 * Gathered writes of at least this many bytes go through the libuv thread
 * pool, so the main thread goes on deduplicating while the kernel copies a
 * replay's megabytes; smaller ones (the live stream) are written at once.
 */
const BACKGROUND_WRITE_BYTES = 64 * 1024;

/**
 * After this many bytes written since the last one, an fdatasync is started in
 * the background (not awaited): the kernel writes the file back while records
 * keep coming, so the fsync of a checkpoint or of close() finds little left
 * (one fsync of a whole replay's output at once is a long stall: measured by
 * hand, figures in bench/RESULTS.md; bench/checkpoint.ts measures what
 * checkpoints cost). With
 * `pageCache: 'drop'` the stretch before the one just written back is then
 * dropped from the page cache (see page-cache.ts).
 */
const WRITEBACK_EVERY_BYTES = 32 * 1024 * 1024;

export interface FileSinkOptions {
  /** Length a checkpoint committed: the file is cut back to it (restart). */
  committedBytes?: number;
  /** Default 'drop' (the engine's default with `once` is 'direct'). */
  pageCache?: SinkPageCache;
  /** The fdatasync + drop (default: the native addon's; tests inject failures). */
  writeBackAndDrop?: WriteBackAndDrop;
}

/**
 * Appends to a local file. Small batches are written synchronously: a
 * page-cache write of a few records costs microseconds, less than a round trip
 * through the libuv thread pool would add to their latency. Large gathered
 * batches (history replay) are written on the pool, one at a time, so the
 * file's order is the order of the calls.
 *
 * Exactly-once across crashes: `bytesWritten` is what a checkpoint commits
 * (after flush()), and a restart opens the file with `committedBytes`,
 * cutting off whatever was written after the last checkpoint; those records
 * are read and written again from the checkpointed offsets.
 */
export class FileSink implements Sink {
  readonly name: string;
  private readonly fd: number;
  private closed = false;
  private written: number;
  /** The background writev under way, if any. */
  private pending: Promise<void> | undefined;
  /** A background write failed: every later call reports it. */
  private failure: Error | undefined;
  /** The background fdatasync under way, and where the last one started. */
  private writeback: Promise<void> | undefined;
  private writebackAt = 0;
  /** The addon's fdatasync + drop with pageCache 'drop' (when it loads), else a plain fdatasync. */
  private readonly writeBackAndDrop: WriteBackAndDrop;
  /** Everything before this offset has been dropped from the page cache (or was there before us). */
  private droppedUpTo: number;
  /** With pageCache 'direct' (and the addon): every write goes through it instead of `fd`. */
  private readonly directWriter: DirectWriter | undefined;
  /** pageCache 'direct' was asked for and is not what this sink does: why, and what it does instead. */
  readonly directUnavailable: string | undefined;
  /** Offered with the direct writer only (see Sink.writeRuns): the other modes take views, as writev(2) does. */
  readonly writeRuns?: NonNullable<Sink['writeRuns']>;

  /** Where the file is: the configured path, or where it was moved while written (relocated()). */
  private location: string;
  /** The file's `dev:ino` (checkpoints keep it, so a restart cuts back only the file they wrote). */
  readonly identity: string;
  /**
   * A regular file: one a restart can cut back to what a checkpoint committed.
   * A FIFO or a device (file:/dev/null) holds no records to cut back.
   */
  readonly regularFile: boolean;

  constructor(
    /** The path the sink was opened at (a rotation may move the file away from it). */
    readonly configuredPath: string,
    options: FileSinkOptions = {},
  ) {
    const path = configuredPath;
    this.location = path;
    this.name = `file:${path}`;
    // Checked before the file is opened (and made, were it missing), cut back only once it is ours.
    if (options.committedBytes !== undefined) checkCommitted(path, options.committedBytes);
    this.fd = openSync(path, 'a');
    const kind = fstatSync(this.fd);
    this.regularFile = kind.isFile();
    try {
      // A device or FIFO (file:/dev/null) is shared by design: only regular files are locked.
      if (kind.isFile()) lockForWriting(this.fd, path);
      if (options.committedBytes !== undefined && kind.size > options.committedBytes) ftruncateSync(this.fd, options.committedBytes);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
    this.written = statSync(path).size;
    this.writebackAt = this.written;
    this.droppedUpTo = this.written;
    // 'direct' where it cannot be had writes as 'drop'.
    const dropper = options.pageCache !== 'keep' ? (options.writeBackAndDrop ?? nativeWriteBackAndDrop()) : undefined;
    this.writeBackAndDrop = dropper ?? fdatasyncOnly;
    // A FIFO or a socket has no offsets to write at: 'direct' writes those as 'drop'.
    this.identity = identityOfFd(this.fd).key;
    const positional = kind.isFile() || kind.isCharacterDevice() || kind.isBlockDevice();
    this.directWriter = options.pageCache === 'direct' && positional ? openDirectWriter(path, this.written) : undefined;
    const writer = this.directWriter;
    if (writer) this.writeRuns = (sources, runs, count, written) => this.submitRuns(writer, sources, runs, count, written);
    if (options.pageCache === 'direct') this.directUnavailable = whyNotDirect(kind.isFile(), writer);
  }

  /** Where the file is now, as far as the sink knows: checkpoints name it. */
  get path(): string {
    return this.location;
  }

  /**
   * What was done to the file outside ordertail since it was opened (log
   * rotation, a person): `moved` when the configured path no longer names it
   * (renamed: `to` is where it is now; deleted: `to` undefined), `truncated`
   * when it is shorter than what was written into it (copytruncate: the
   * sink goes on from its new length, since its writes append). Undefined
   * when nothing was, or while a background write or the direct writer could
   * make the file's size lag behind.
   */
  outsideChange(): { kind: 'moved'; to: string | undefined } | { kind: 'truncated'; from: number; to: number } | undefined {
    if (this.closed || this.failure) return undefined;
    const own = fstatSync(this.fd);
    if (!own.isFile()) return undefined;
    if (identityOfPath(this.configuredPath)?.key !== this.identity) return { kind: 'moved', to: own.nlink > 0 ? whereNow(this.fd) : undefined };
    if (this.pending || this.directWriter || own.size >= this.written) return undefined;
    const from = this.written;
    this.written = own.size;
    this.writebackAt = Math.min(this.writebackAt, own.size);
    this.droppedUpTo = Math.min(this.droppedUpTo, own.size);
    return { kind: 'truncated', from, to: own.size };
  }

  /** The file was moved to `to` (outsideChange): checkpoints name it there from now on. */
  relocated(to: string): void {
    this.location = to;
  }

  /** Whether writes bypass the page cache (pageCache 'direct', the addon loaded, O_DIRECT allowed here). */
  get writesDirect(): boolean {
    return this.directWriter?.direct ?? false;
  }

  /** Length of the file including everything written (or being written) through this sink. */
  get bytesWritten(): number {
    return this.written;
  }

  write(chunk: Uint8Array): true {
    if (this.failure) throw this.failure;
    // A synchronous write now could overtake the background one in the file.
    if (this.pending) throw new Error(`${this.name}: write() while a background writev is under way`);
    if (this.directWriter) {
      const errno = this.directWriter.submitNow(chunk);
      if (errno !== 0) throw (this.failure = errnoError(errno, 'write', this.path));
      this.written += chunk.length;
      return true;
    }
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done);
    this.written += chunk.length;
    return true;
  }

  writev(chunks: readonly Uint8Array[], written: (err?: Error) => void): true | Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending) return this.pending;
    let total = 0;
    for (const c of chunks) total += c.length;
    // pageCache 'direct': `written` once the addon has copied the chunks; the device writes behind.
    if (this.directWriter) return this.behind(total, this.directWriter.submit(chunks as Uint8Array[]), written);
    if (total < BACKGROUND_WRITE_BYTES) {
      try {
        this.writevNow(chunks);
      } catch (err) {
        this.failure = err as Error;
        written(this.failure);
        return true;
      }
      written();
      return true;
    }
    this.written += total;
    this.pending = new Promise<void>((resolve) => {
      const finish = (err: Error | null): void => {
        this.pending = undefined;
        if (err) this.failure = err;
        else this.startWriteback();
        written(err ?? undefined);
        resolve();
      };
      const go = (list: readonly Uint8Array[], remaining: number): void => {
        writev(this.fd, list as Uint8Array[], (err, n) => {
          if (err) return finish(err);
          // A short write (rare: a signal, a disk about to fill) goes on from where it stopped.
          if (n < remaining) return go(rest(list, n), remaining - n);
          finish(null);
        });
      };
      go(chunks, total);
    });
    return true;
  }

  /** writeRuns with the direct writer: writev's direct path, the batch given as runs. */
  private submitRuns(writer: DirectWriter, sources: readonly Uint8Array[], runs: Uint32Array, count: number, written: (err?: Error) => void): true | Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending) return this.pending;
    let total = 0;
    for (let i = 0; i < count; i++) total += runs[3 * i + 2]! - runs[3 * i + 1]!;
    // Copied here when no buffer has to be waited for: a batch's copy takes a
    // fraction of a millisecond, and the libuv pool's thread would first have
    // to get a core from the parse threads while the emit stage waits for it
    // (bench/RESULTS.md, 2026-12-05).
    const now = writer.trySubmitRuns?.(sources as Uint8Array[], runs, count) ?? -1;
    if (now >= 0) {
      this.written += total;
      this.copied(now, written);
      return true;
    }
    return this.behind(total, writer.submitRuns(sources as Uint8Array[], runs, count), written);
  }

  /** A submission copied by the addon with `errno` (0: done): `written` told, a failure kept for every later call. */
  private copied(errno: number, written: (err?: Error) => void): void {
    if (errno !== 0) this.failure ??= errnoError(errno, 'write', this.path);
    written(errno !== 0 ? this.failure : undefined);
  }

  /** A submission under way: copied() once the addon has copied it. */
  private behind(total: number, copied: Promise<number>, written: (err?: Error) => void): true {
    this.written += total;
    this.pending = copied.then(
      (errno) => {
        this.pending = undefined;
        this.copied(errno, written);
      },
      (err: unknown) => {
        this.pending = undefined;
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        written(this.failure);
      },
    );
    return true;
  }

  /** One writev(2) on this thread; after a short write, the rest chunk by chunk. */
  private writevNow(chunks: readonly Uint8Array[]): void {
    const done = writevSync(this.fd, chunks as Uint8Array[]);
    this.written += done;
    for (const c of rest(chunks, done)) this.write(c);
  }

  /**
   * Early writeback (see WRITEBACK_EVERY_BYTES). Its error fails the sink: on
   * Linux a writeback error is reported once per open file, so the fsync of
   * the next checkpoint or of close() would not see it again. EINVAL (a
   * special file that cannot be synced) is not a lost write.
   */
  private startWriteback(): void {
    if (this.writeback || this.written - this.writebackAt < WRITEBACK_EVERY_BYTES) return;
    const upTo = this.written;
    this.writebackAt = upTo;
    // Keep the newest stretch cached for a reader following the file.
    const dropTo = Math.max(this.droppedUpTo, upTo - WRITEBACK_EVERY_BYTES);
    this.writeback = this.writeBackAndDrop(this.fd, this.droppedUpTo, dropTo).then(
      (errno) => {
        this.writeback = undefined;
        if (errno === 0) this.droppedUpTo = dropTo;
        else if (errno !== errnos.EINVAL) this.failure ??= errnoError(errno, 'fdatasync', this.path);
      },
      (err: unknown) => {
        this.writeback = undefined;
        this.failure ??= err instanceof Error ? err : new Error(String(err));
      },
    );
  }

  /**
   * Every byte written so far is in the file for a reader (not necessarily on
   * disk): no background write under way, and with pageCache 'direct' the
   * partial last block written too.
   */
  async settle(): Promise<void> {
    while (this.pending) await this.pending;
    if (this.failure) throw this.failure;
    if (this.directWriter && !this.closed) await this.flushDirect(this.directWriter, false);
  }

  /** The direct writer's queue written, its partial last block too; with `sync`, on disk. */
  private async flushDirect(writer: DirectWriter, sync: boolean): Promise<void> {
    const errno = await writer.flush(sync);
    if (errno !== 0) throw (this.failure ??= errnoError(errno, 'write', this.path));
  }

  /** fsync on the libuv pool: the main thread goes on emitting meanwhile. */
  async flush(): Promise<void> {
    while (this.pending) await this.pending;
    if (this.failure) throw this.failure;
    // The descriptor must outlive a background fdatasync (close() follows).
    if (this.writeback) await this.writeback;
    if (this.failure) throw this.failure;
    if (this.closed) return;
    if (this.directWriter) return this.flushDirect(this.directWriter, true);
    try {
      await fsyncAsync(this.fd);
    } catch (err) {
      // A special file (a FIFO, /dev/null) cannot be synced: nothing is lost.
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      this.directWriter?.close();
      closeSync(this.fd);
    }
  }
}

/** Where the open file `fd` is now (Linux names it in /proc), undefined where that cannot be told. */
function whereNow(fd: number): string | undefined {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    return target.startsWith('/') && !target.endsWith(' (deleted)') ? target : undefined;
  } catch {
    return undefined;
  }
}

/** Why a sink asked to write 'direct' does not (undefined: it does). */
function whyNotDirect(regularFile: boolean, writer: DirectWriter | undefined): string | undefined {
  if (!regularFile) return writer ? 'not a regular file: written behind the engine without O_DIRECT' : 'not a regular file: written as drop';
  if (!writer) return 'the native addon is not loaded: written as drop';
  return writer.direct ? undefined : 'the file system refused O_DIRECT: written through the page cache, behind the engine';
}

/** The writeback without the drop (pageCache 'keep', or no addon): Node's fdatasync, as an errno. */
const fdatasyncOnly: WriteBackAndDrop = (fd) =>
  new Promise((resolve) => fdatasync(fd, (err) => resolve(err ? Math.abs(err.errno ?? errnos.EIO) : 0)));

/** `list` without its first `n` bytes. */
function rest(list: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of list) {
    if (n >= c.length) {
      n -= c.length;
      continue;
    }
    out.push(n > 0 ? c.subarray(n) : c);
    n = 0;
  }
  return out;
}

/** Truncate `path` to the length a checkpoint committed; shorter means it lost committed records. */
export function rollBack(path: string, committedBytes: number): void {
  const size = checkCommitted(path, committedBytes);
  if (size !== undefined && size > committedBytes) truncateSync(path, committedBytes);
}

/** The size of `path` (undefined: missing, which only an empty commit allows), checked to hold what a checkpoint committed. */
function checkCommitted(path: string, committedBytes: number): number | undefined {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || committedBytes > 0) {
      throw new CheckpointError(path, `is missing, but the checkpoint says ${committedBytes} bytes of records were committed to it`, { cause: err, subject: 'output file' });
    }
    return undefined;
  }
  if (size < committedBytes) {
    throw new CheckpointError(path, `has ${size} bytes, fewer than the ${committedBytes} the checkpoint committed: it was truncated or replaced outside ordertail`, { subject: 'output file' });
  }
  return size;
}

/**
 * One writer per output file: two engines appending to one file (each with a
 * checkpoint directory of its own, or none) would interleave their records,
 * repeat every one, and each cut back the other's at its restart. The lock
 * (flock, through the addon; Node has none) goes with the descriptor, so a
 * killed engine never leaves it held. Without the addon: not locked.
 */
function lockForWriting(fd: number, path: string): void {
  const errno = (tryLockExclusive ??= nativeTryLockExclusive() ?? null)?.(fd) ?? 0;
  // A file system without flock (some network ones): written unlocked, as without the addon.
  if (errno === 0 || errno === errnos.ENOLCK || errno === errnos.EINVAL || errno === errnos.EOPNOTSUPP) return;
  // EWOULDBLOCK (EAGAIN): another open file of it holds the lock; named by the caller (engine/outputs.ts).
  throw errnoError(errno, 'flock', path);
}
let tryLockExclusive: TryLockExclusive | null | undefined;
