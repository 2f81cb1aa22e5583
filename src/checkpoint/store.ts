import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CheckpointError } from './errors.js';
import { decodeManifest, encodeManifest, MANIFEST_FILE, type CheckpointState } from './manifest.js';

const DEDUP_PREFIX = 'dedup-';
const fsyncAsync = promisify(fsync);

/**
 * A checkpoint directory. A commit is atomic: the dedup snapshot and the new
 * manifest are written to temporary names, fsynced, then renamed; the manifest
 * rename is the commit point (the directory is fsynced after it). A crash at
 * any moment leaves either the previous checkpoint or the new one.
 */
export class CheckpointStore {
  readonly manifestPath: string;
  private committing: Promise<void> | undefined;

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
    let size: number;
    try {
      size = statSync(dedupPath).size;
    } catch (err) {
      throw new CheckpointError(dedupPath, `(named by ${this.manifestPath}) is missing (${(err as NodeJS.ErrnoException).code})`, { cause: err });
    }
    if (size !== state.dedup.byteLength) {
      throw new CheckpointError(dedupPath, `has ${size} bytes where ${this.manifestPath} says ${state.dedup.byteLength}`);
    }
    return state;
  }

  /** Read the committed dedup snapshot: raw tables straight into shared memory (one copy, no decoding). */
  readDedup(state: CheckpointState): Uint8Array {
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

  /** Forget the checkpoint (--reset-checkpoint): remove the manifest first, so a crash midway leaves none. */
  reset(): void {
    rmSync(this.manifestPath, { force: true });
    for (const name of this.listDir()) {
      if (name.startsWith(DEDUP_PREFIX) || name.endsWith('.tmp')) rmSync(join(this.dir, name), { force: true });
    }
  }

  private listDir(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
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
   * Commit `state` with `dedup` as its table snapshot. The snapshot is
   * written synchronously (so it matches `state` exactly: the caller inserts
   * nothing meanwhile); fsyncs and renames then run off the main thread.
   * `flushOutputs` must make the outputs durable up to the committed lengths.
   */
  commit(state: CheckpointState, dedup: Uint8Array, flushOutputs: () => Promise<void>): Promise<void> {
    if (this.committing) throw new Error('a checkpoint commit is already in flight');
    mkdirSync(this.dir, { recursive: true });
    const dedupName = `${DEDUP_PREFIX}${state.generation}.bin`;
    const dedupTmp = join(this.dir, `${dedupName}.tmp`);
    const fd = openSync(dedupTmp, 'w');
    try {
      const view = dedup;
      let done = 0;
      while (done < view.length) done += writeSync(fd, view, done, Math.min(view.length - done, 1 << 30), done);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    const committed = { ...state, dedup: { ...state.dedup, file: dedupName, byteLength: dedup.byteLength } };
    this.committing = this.finish(fd, dedupTmp, dedupName, committed, flushOutputs).finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  private async finish(fd: number, dedupTmp: string, dedupName: string, state: CheckpointState, flushOutputs: () => Promise<void>): Promise<void> {
    try {
      await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    await rename(dedupTmp, join(this.dir, dedupName));
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
    // Older snapshots are garbage once the new manifest is durable.
    for (const name of this.listDir()) {
      if (name.startsWith(DEDUP_PREFIX) && name !== dedupName && !name.endsWith('.tmp')) await rm(join(this.dir, name), { force: true });
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
