/*
 * Checkpoint files are read only by a restart: the store writes a snapshot
 * and a journal a step at a time, each step synced and dropped from the page
 * cache before the next, so that a table's worth of new page-cache pages
 * every few seconds does not compete with the live lane (store.ts,
 * DROP_BEHIND_STEP_BYTES). The bytes on disk are exactly the ones given, and
 * a failed sync fails the commit instead of being lost.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore } from '../dist/src/checkpoint/store.js';
import type { CheckpointState } from '../dist/src/checkpoint/manifest.js';
import { nativeWriteBackAndDrop, type WriteBackAndDrop } from '../dist/src/util/write-back.js';
import { workdir } from './helpers/workdir.js';

const MiB = 1024 * 1024;
const TMPFS_MAGIC = 0x01021994;
const native = nativeWriteBackAndDrop();

function state(generation: number): CheckpointState {
  return { generation, writtenAtMs: Date.now(), sink: { kind: 'none' }, deadLetter: undefined, dedup: { format: 'raw', file: '', byteLength: 0, windowMs: 60_000, capacity: 1 << 16 }, files: [] };
}

const random = (bytes: number): Uint8Array => randomFillSync(new Uint8Array(bytes));

/** Pages of `path` in the page cache, by util-linux fincore; undefined where it cannot tell. */
function residentPages(path: string): number | undefined {
  try {
    return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'PAGES', path], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

describe.skipIf(native === undefined)('checkpoint files dropped behind', () => {
  it('writes snapshot and journal in synced steps of at most 8 MiB, byte for byte, and leaves them out of the page cache', async () => {
    const dir = workdir();
    const calls: { fd: number; from: number; to: number }[] = [];
    const recording: WriteBackAndDrop = (fd, from, to) => {
      calls.push({ fd, from, to });
      return native!(fd, from, to);
    };
    const store = new CheckpointStore(join(dir, 'ck'), recording);
    const snapshot = random(20 * MiB + 12_345);
    const journal = [random(5 * MiB), random(6 * MiB + 16), random(0), random(48)];
    await store.commit(state(1), { base: snapshot, baseIsCopy: true, journal }, async () => {});
    const committed = store.lastCommitted!;
    const snapshotPath = join(dir, 'ck', committed.dedup.file);
    const journalPath = join(dir, 'ck', committed.dedup.journal!.file);
    // Before anything reads the files back. tmpfs has no disk to drop to: its pages are the file.
    if (statfsSync(dir).type !== TMPFS_MAGIC) {
      const pages = residentPages(snapshotPath);
      if (pages !== undefined) expect(pages).toBeLessThan(16);
    }
    expect(readFileSync(snapshotPath).equals(snapshot)).toBe(true);
    expect(readFileSync(journalPath).equals(Buffer.concat(journal))).toBe(true);

    // Two files, one after the other (a descriptor number may be reused), each
    // covered from 0 to its end by contiguous steps of at most 8 MiB.
    const files: { from: number; to: number }[][] = [];
    for (const c of calls) {
      if (c.from === 0) files.push([]);
      files.at(-1)!.push(c);
    }
    const lengths = files.map((steps) => {
      let end = 0;
      for (const step of steps) {
        expect(step.from).toBe(end);
        expect(step.to - step.from).toBeLessThanOrEqual(8 * MiB);
        end = step.to;
      }
      return end;
    });
    expect(lengths.sort((a, b) => a - b)).toEqual([journal.reduce((n, j) => n + j.length, 0), snapshot.length]);

  });

  it('fails the commit, naming the file, when a sync fails, and keeps the last committed checkpoint', async () => {
    const dir = workdir();
    let failAfter = Number.POSITIVE_INFINITY;
    const failing: WriteBackAndDrop = (fd, from, to) => (failAfter-- <= 0 ? Promise.resolve(5 /* EIO */) : native!(fd, from, to));
    const store = new CheckpointStore(join(dir, 'ck'), failing);
    await store.commit(state(1), { base: random(MiB), baseIsCopy: true }, async () => {});
    const first = store.lastCommitted!;
    failAfter = 1;
    await expect(store.commit(state(2), { base: random(17 * MiB), baseIsCopy: true }, async () => {})).rejects.toThrow(/EIO: fdatasync '.*dedup-2\.bin\.tmp'/);
    expect(store.lastCommitted).toEqual(first);
    expect(new CheckpointStore(join(dir, 'ck')).load()).toEqual(first);
  });
});
