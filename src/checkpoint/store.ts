import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, write, writeSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CheckpointError } from './errors.js';
import { decodeManifest, encodeManifest, MANIFEST_FILE, type CheckpointState } from './manifest.js';
import { ENTRY_BYTES } from '../dedup/layout.js';

const DEDUP_PREFIX = 'dedup-';
const JOURNAL_PREFIX = 'journal-';
const fsyncAsync = promisify(fsync);
const writeAsync = promisify(write);

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

  constructor(readonly dir: string) {
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
    mkdirSync(this.dir, { recursive: true });
    let committed = state;
    let base: { fd: number; name: string; bytes?: Uint8Array } | undefined;
    if (dedup.base) {
      const name = `${DEDUP_PREFIX}${state.generation}.bin`;
      const tmp = join(this.dir, `${name}.tmp`);
      // A copy is written with the fsync, off the main thread; the table's own memory now.
      base = dedup.baseIsCopy ? { fd: openSync(tmp, 'w'), name, bytes: dedup.base } : { fd: writeWhole(tmp, dedup.base), name };
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
    base: { fd: number; name: string; bytes?: Uint8Array } | undefined,
    journal: { name: string; segments: readonly Uint8Array[] } | undefined,
    state: CheckpointState,
    flushOutputs: () => Promise<void>,
  ): Promise<void> {
    if (base) {
      try {
        if (base.bytes) await writeAllAsync(base.fd, base.bytes);
        await fsyncAsync(base.fd);
      } finally {
        closeSync(base.fd);
      }
      await rename(join(this.dir, `${base.name}.tmp`), join(this.dir, base.name));
    }
    if (journal) {
      const tmp = join(this.dir, `${journal.name}.tmp`);
      const handle = await open(tmp, 'w');
      try {
        let position = 0;
        for (const segment of journal.segments) {
          for (let done = 0; done < segment.length; ) done += (await handle.write(segment, done, segment.length - done, position + done)).bytesWritten;
          position += segment.length;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
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

  private syncDir(): void {
    const d = openSync(this.dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  }
}

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

/** Write `bytes` to the start of the file `fd` on libuv's threads. */
async function writeAllAsync(fd: number, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await writeAsync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), done);
    done += bytesWritten;
  }
}
