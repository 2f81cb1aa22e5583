import { closeSync, fsync, fsyncSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeCheckpointDirectory } from './directory.js';
import { CheckpointError } from './errors.js';
import { decodeManifest, encodeManifest, MANIFEST_FILE, type CheckpointState } from './manifest.js';
import { ENTRY_BYTES } from '../dedup/layout.js';
import { errnoError, type WriteBackAndDrop } from '../util/write-back.js';

const DEDUP_PREFIX = 'dedup-';
const JOURNAL_PREFIX = 'journal-';
const fsyncAsync = promisify(fsync);

/**
 * With a WriteBackAndDrop, snapshots and journals are written in steps of
 * this size, each synced and dropped from the page cache before the next.
 * Written whole and left cached, a table's worth of new pages every few
 * seconds (73 MiB at 300k keys/s) usually cost ~25 ms of kernel time, but now
 * and then over 400 ms, on the core the live lane shares; dropped behind,
 * the next snapshot's pages come from those just freed, and the cost stays
 * near the usual (bench/RESULTS.md, "checkpoint files dropped behind").
 */
const DROP_BEHIND_STEP_BYTES = 8 * 1024 * 1024;

/**
 * A checkpoint directory. A commit is atomic: the dedup snapshot and the new
 * manifest are written to temporary names, fsynced, then renamed; the manifest
 * rename is the commit point (the directory is fsynced after it). A crash at
 * any moment leaves either the previous checkpoint or the new one.
 */
export class CheckpointStore {
  readonly manifestPath: string;
  private committing: Promise<void> | undefined;
  /** The state of the last successful commit (file names filled in). */
  lastCommitted: CheckpointState | undefined;

  /** `writeBack`: sync and drop each written step (DROP_BEHIND_STEP_BYTES); without it, one fsync per file. */
  constructor(
    readonly dir: string,
    private readonly writeBack?: WriteBackAndDrop,
  ) {
    this.manifestPath = join(dir, MANIFEST_FILE);
  }

  /** The committed state, or undefined when there is none. Damage is a CheckpointError. */
  load(): CheckpointState | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.manifestPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new CheckpointError(this.manifestPath, `cannot be read (${code ?? String(err)})`, { cause: err });
    }
    let state: CheckpointState;
    try {
      state = decodeManifest(bytes);
    } catch (err) {
      throw new CheckpointError(this.manifestPath, (err as Error).message, { cause: err });
    }
    const dedupPath = join(this.dir, state.dedup.file);
    // No file: the empty table a first run starts from (everything is in the journal).
    if (state.dedup.file === '' && state.dedup.byteLength === 0 && state.dedup.format === 'entries') return this.checkJournal(state);
    let size: number;
    try {
      size = statSync(dedupPath).size;
    } catch (err) {
      throw new CheckpointError(dedupPath, `(named by ${this.manifestPath}) is missing (${(err as NodeJS.ErrnoException).code})`, { cause: err });
    }
    if (size !== state.dedup.byteLength) {
      throw new CheckpointError(dedupPath, `has ${size} bytes where ${this.manifestPath} says ${state.dedup.byteLength}`);
    }
    return this.checkJournal(state);
  }

  private checkJournal(state: CheckpointState): CheckpointState {
    const journal = state.dedup.journal;
    if (journal) {
      const journalPath = join(this.dir, journal.file);
      let journalSize: number;
      try {
        journalSize = statSync(journalPath).size;
      } catch (err) {
        throw new CheckpointError(journalPath, `(named by ${this.manifestPath}) is missing (${(err as NodeJS.ErrnoException).code})`, { cause: err });
      }
      if (journalSize !== journal.byteLength || journalSize % ENTRY_BYTES !== 0) {
        throw new CheckpointError(journalPath, `has ${journalSize} bytes where ${this.manifestPath} says ${journal.byteLength}`);
      }
    }
    return state;
  }

  /** Read the committed dedup snapshot: raw tables straight into shared memory (one copy, no decoding). */
  readDedup(state: CheckpointState): Uint8Array {
    if (state.dedup.file === '') return new Uint8Array(0);
    const path = join(this.dir, state.dedup.file);
    const view = state.dedup.format === 'raw' ? new Uint8Array(new SharedArrayBuffer(state.dedup.byteLength)) : new Uint8Array(state.dedup.byteLength);
    const fd = openSync(path, 'r');
    try {
      let done = 0;
      while (done < view.length) {
        const n = readSync(fd, view, done, Math.min(view.length - done, 1 << 30), done);
        if (n === 0) throw new CheckpointError(path, `ended after ${done} of ${view.length} bytes`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    return view;
  }

  /** The journal of keys inserted after the snapshot (empty when there is none). */
  readJournal(state: CheckpointState): Uint8Array {
    if (!state.dedup.journal) return new Uint8Array(0);
    return readFileSync(join(this.dir, state.dedup.journal.file));
  }

  /** Forget the checkpoint (--reset-checkpoint): remove the manifest first, so a crash midway leaves none. */
  reset(): void {
    rmSync(this.manifestPath, { force: true });
    for (const name of this.listDir()) {
      if (name.startsWith(DEDUP_PREFIX) || name.startsWith(JOURNAL_PREFIX) || name.endsWith('.tmp')) rmSync(join(this.dir, name), { force: true });
    }
  }

  private listDir(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  /** Files a journal fold is reading or making, outside a commit: not garbage yet. */
  private readonly pinned = new Set<string>();

  pin(file: string): void {
    this.pinned.add(file);
  }

  unpin(file: string): void {
    this.pinned.delete(file);
  }

  /** A commit is in flight (callers skip a periodic checkpoint rather than queue one). */
  get busy(): boolean {
    return this.committing !== undefined;
  }

  /** Resolves when the commit in flight, if any, is done. */
  async settled(): Promise<void> {
    while (this.committing) await this.committing.catch(() => {});
  }

  /**
   * Commit `state`. The dedup table goes to disk as a full snapshot (`base`,
   * written synchronously, so it matches `state` exactly: the caller inserts
   * nothing meanwhile) or, between full snapshots, as the journal of keys
   * inserted since the last one (`journal`: bytes that never change, written
   * off the main thread). fsyncs and renames run off the main thread.
   * `flushOutputs` must make the outputs durable up to the committed lengths.
   */
  commit(state: CheckpointState, dedup: { base?: Uint8Array; baseIsCopy?: boolean; journal?: readonly Uint8Array[] }, flushOutputs: () => Promise<void>): Promise<void> {
    if (this.committing) throw new Error('a checkpoint commit is already in flight');
    makeCheckpointDirectory(this.dir);
    let committed = state;
    let base: SnapshotWrite | undefined;
    if (dedup.base) {
      const name = `${DEDUP_PREFIX}${state.generation}.bin`;
      const tmp = join(this.dir, `${name}.tmp`);
      // A copy is written with the fsync, off the main thread; the table's own memory now.
      base = dedup.baseIsCopy ? { name, bytes: dedup.base } : { fd: writeWhole(tmp, dedup.base), name };
      committed = { ...committed, dedup: { ...committed.dedup, file: name, byteLength: dedup.base.byteLength } };
    }
    const journal = dedup.journal ? { name: `${JOURNAL_PREFIX}${state.generation}.bin`, segments: dedup.journal } : undefined;
    if (journal) committed = { ...committed, dedup: { ...committed.dedup, journal: { file: journal.name, byteLength: journal.segments.reduce((n, s) => n + s.byteLength, 0) } } };
    this.committing = this.finish(base, journal, committed, flushOutputs).finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  private async finish(
    base: SnapshotWrite | undefined,
    journal: { name: string; segments: readonly Uint8Array[] } | undefined,
    state: CheckpointState,
    flushOutputs: () => Promise<void>,
  ): Promise<void> {
    if (base) {
      const tmp = join(this.dir, `${base.name}.tmp`);
      if ('bytes' in base) {
        await this.writeFile(tmp, [base.bytes]);
      } else {
        try {
          await fsyncAsync(base.fd);
        } finally {
          closeSync(base.fd);
        }
      }
      await rename(tmp, join(this.dir, base.name));
    }
    if (journal) {
      const tmp = join(this.dir, `${journal.name}.tmp`);
      await this.writeFile(tmp, journal.segments);
      await rename(tmp, join(this.dir, journal.name));
    }
    await flushOutputs();
    const manifestTmp = `${this.manifestPath}.tmp`;
    await writeFile(manifestTmp, encodeManifest(state));
    const m = await open(manifestTmp, 'r+');
    try {
      await m.sync();
    } finally {
      await m.close();
    }
    renameSync(manifestTmp, this.manifestPath);
    this.syncDir();
    this.lastCommitted = state;
    // Snapshots and journals the new manifest does not name are garbage once it is durable.
    const keep = new Set([state.dedup.file, state.dedup.journal?.file]);
    for (const name of this.listDir()) {
      if ((name.startsWith(DEDUP_PREFIX) || name.startsWith(JOURNAL_PREFIX)) && !keep.has(name) && !this.pinned.has(name) && !name.endsWith('.tmp')) await rm(join(this.dir, name), { force: true });
    }
  }

  /**
   * `parts`, one after the other, into a new file at `path` (truncated), made
   * durable: synced and dropped from the page cache a step at a time with
   * writeBack, else fsynced once at the end. On libuv's threads throughout.
   */
  private async writeFile(path: string, parts: readonly Uint8Array[]): Promise<void> {
    const handle = await open(path, 'w');
    try {
      let position = 0;
      let synced = 0;
      for (const part of parts) {
        for (let at = 0; at < part.length; ) {
          const step = this.writeBack ? Math.min(part.length - at, DROP_BEHIND_STEP_BYTES - (position - synced)) : part.length - at;
          await writeAll(handle, part.subarray(at, at + step), position);
          at += step;
          position += step;
          if (this.writeBack && position - synced >= DROP_BEHIND_STEP_BYTES) synced = await this.writtenBack(handle, path, synced, position);
        }
      }
      if (this.writeBack) await this.writtenBack(handle, path, synced, position);
      else await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** [from, to) of `handle` synced and dropped; returns `to`. */
  private async writtenBack(handle: FileHandle, path: string, from: number, to: number): Promise<number> {
    const errno = await this.writeBack!(handle.fd, from, to);
    if (errno !== 0) throw errnoError(errno, 'fdatasync', path);
    return to;
  }

  private syncDir(): void {
    const d = openSync(this.dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  }
}

/** A snapshot on its way to disk: a copy (written off the main thread), or the live table already written to `fd`. */
type SnapshotWrite = { readonly name: string; readonly bytes: Uint8Array } | { readonly name: string; readonly fd: number };

/** Write `bytes` to a new file; returns its open descriptor (for the caller's fsync). */
function writeWhole(path: string, bytes: Uint8Array): number {
  const fd = openSync(path, 'w');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), done);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, bytes.length - done, position + done)).bytesWritten;
}
