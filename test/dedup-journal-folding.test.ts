/*
 * A follower's dedup journal is folded into a new snapshot on a parse worker
 * (checkpoint/dedup-compaction.ts) instead of scanning the live table on the
 * main thread. The fold must give exactly the table a restart would build,
 * and the checkpoints after it must restore every key.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore } from '../dist/src/checkpoint/store.js';
import { DedupJournal } from '../dist/src/checkpoint/dedup-journal.js';
import { DedupEntries } from '../dist/src/dedup/entries.js';
import { DedupCheckpoint } from '../dist/src/checkpoint/dedup-state.js';
import { compactDedup } from '../dist/src/checkpoint/dedup-compaction.js';
import { DedupTable, INSERT_DUPLICATE } from '../dist/src/dedup/table.js';
import type { CheckpointState } from '../dist/src/checkpoint/manifest.js';
import { workdir } from './helpers/workdir.js';

const T0 = 1_700_000_000_000;
const OPTIONS = { capacity: 1 << 20, windowMs: 3_600_000 };

/** Insert keys [from, to) as the emit stage does: table, then the journal for NEW ones. */
function insertKeys(table: DedupTable, checkpoint: InstanceType<typeof DedupCheckpoint>, from: number, to: number): void {
  const times = new Float64Array(1);
  for (let k = from; k < to; k++) {
    times[0] = T0 + k;
    if (table.insertAt(k * 7919, k ^ 0x5bd1e995, times, 0) !== INSERT_DUPLICATE) checkpoint.journal.push(k * 7919, k ^ 0x5bd1e995, times, 0);
  }
}

let generation = 0;
async function commit(store: InstanceType<typeof CheckpointStore>, checkpoint: InstanceType<typeof DedupCheckpoint>, table: DedupTable): Promise<CheckpointState> {
  const { writes, manifest } = checkpoint.prepare(table);
  const state: CheckpointState = {
    generation: ++generation,
    writtenAtMs: Date.now(),
    sink: { kind: 'none' },
    deadLetter: undefined,
    dedup: { ...manifest, windowMs: OPTIONS.windowMs, capacity: table.capacity },
    files: [],
  };
  await store.commit(state, writes, async () => {});
  checkpoint.committed(store.lastCommitted!);
  return store.lastCommitted!;
}

/** Keys [from, n) all known to a table restored from the directory's last checkpoint, and a new key new. */
function expectRestartKnows(dir: string, n: number, from = 0): void {
  const store = new CheckpointStore(join(dir, 'ck'));
  const again = new DedupCheckpoint(store).restore(store.load()!, OPTIONS, () => {});
  const times = new Float64Array([T0]);
  let duplicates = 0;
  for (let k = from; k < n; k++) {
    times[0] = T0 + k;
    if (again.insertAt(k * 7919, k ^ 0x5bd1e995, times, 0) === INSERT_DUPLICATE) duplicates++;
  }
  expect(duplicates).toBe(n - from);
  times[0] = T0;
  expect(again.insertAt(123, 456, times, 0)).not.toBe(INSERT_DUPLICATE);
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

describe('dedup journal folding', () => {
  it('reuses the chunks a reset and a drop let go, and its segments hold exactly the keys pushed since', () => {
    const journal = new DedupJournal();
    const times = new Float64Array(1);
    const push = (from: number, to: number): void => {
      for (let k = from; k < to; k++) {
        times[0] = T0 + k;
        journal.push(k, ~k, times, 0);
      }
    };
    const keysOf = (): number[] => {
      const entries = new DedupEntries(Buffer.concat(journal.segments()));
      return Array.from({ length: entries.capacity }, (_, e) => entries.hashLo(e));
    };
    push(0, 200_000); // 3+ chunks
    journal.reset();
    push(1_000_000, 1_070_000); // into reused chunks, the last one partly
    expect(journal.length).toBe(70_000);
    expect(keysOf()).toEqual(Array.from({ length: 70_000 }, (_, i) => 1_000_000 + i));
    journal.dropFirst(65_536 + 10); // a whole chunk let go, and 10 entries of the next
    push(2_000_000, 2_100_000);
    const keys = keysOf();
    expect(keys.length).toBe(70_000 - 65_546 + 100_000);
    expect(keys.slice(0, 3)).toEqual([1_065_546, 1_065_547, 1_065_548]);
    expect(keys.at(-1)).toBe(2_099_999);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('folds a journal as soon as it is committed over its limit; the next checkpoint writes only newer keys, and a restart still knows every key', async () => {
    const dir = workdir();
    const store = new CheckpointStore(join(dir, 'ck'));
    // copyMaxBytes 0: this table is folded, as the largest tables are.
    const checkpoint = new DedupCheckpoint(store, 0);
    const folds: string[] = [];
    checkpoint.compactWith(async (task) => {
      folds.push(task.output);
      return compactDedup(task);
    });
    const table = checkpoint.fresh(OPTIONS);
    // Past the journal limit (512 Ki entries for this capacity), committed as a journal: its fold starts.
    insertKeys(table, checkpoint, 0, 525_000);
    const first = await commit(store, checkpoint, table);
    expect(first.dedup.file).toBe('');
    expect(folds).toHaveLength(1);
    await settle();
    // The fold is taken as the base; the journal keeps only keys after the folded commit.
    insertKeys(table, checkpoint, 525_000, 530_000);
    const second = await commit(store, checkpoint, table);
    expect(second.dedup.file).toBe(folds[0]);
    expect(second.dedup.journal!.byteLength).toBe(5_000 * 16);
    expect(readdirSync(join(dir, 'ck')).sort()).toEqual(['checkpoint.msgpack', folds[0]!, second.dedup.journal!.file].sort());
    expectRestartKnows(dir, 530_000);
  }, 60_000);

  it('keeps the journal a fold reads until the fold is done, though commits land meanwhile', async () => {
    const dir = workdir();
    const store = new CheckpointStore(join(dir, 'ck'));
    const checkpoint = new DedupCheckpoint(store, 0);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const folded: string[] = [];
    checkpoint.compactWith(async (task) => {
      // A worker busy elsewhere: the fold reads its inputs only later.
      await held;
      const result = compactDedup(task);
      folded.push(result.file);
      return result;
    });
    const table = checkpoint.fresh(OPTIONS);
    insertKeys(table, checkpoint, 0, 525_000);
    await commit(store, checkpoint, table);
    // Two commits land while the fold waits; each names a new journal and would clean up the old one.
    insertKeys(table, checkpoint, 525_000, 526_000);
    await commit(store, checkpoint, table);
    insertKeys(table, checkpoint, 526_000, 527_000);
    await commit(store, checkpoint, table);
    release();
    await settle();
    expect(folded).toHaveLength(1);
    insertKeys(table, checkpoint, 527_000, 528_000);
    const after = await commit(store, checkpoint, table);
    expect(after.dedup.file).toBe(folded[0]);
    expect(after.dedup.journal!.byteLength).toBe(3_000 * 16);
    expectRestartKnows(dir, 528_000);
  }, 60_000);

  it('at a steady high insert rate (every commit adds most of a limit), folds keep the journal bounded without snapshotting the live table', async () => {
    const dir = workdir();
    const store = new CheckpointStore(join(dir, 'ck'));
    const checkpoint = new DedupCheckpoint(store, 0);
    // Each fold lands only after the next commit, as a fold slower than the checkpoint interval does.
    const pending: (() => void)[] = [];
    checkpoint.compactWith((task) => new Promise((resolve) => pending.push(() => resolve(compactDedup(task)))));
    const table = checkpoint.fresh(OPTIONS);
    const perCommit = 400_000;
    let next = 0;
    const journals: number[] = [];
    for (let c = 0; c < 6; c++) {
      insertKeys(table, checkpoint, next, next + perCommit);
      next += perCommit;
      const state = await commit(store, checkpoint, table);
      // A commit that snapshotted the live table has no journal.
      expect(state.dedup.journal).toBeDefined();
      journals.push(state.dedup.journal!.byteLength / 16);
      for (const finish of pending.splice(0)) finish();
      await settle();
    }
    // Never past twice the limit (512 Ki entries), where the live table would be snapshotted.
    expect(Math.max(...journals)).toBeLessThanOrEqual(2 * 512 * 1024);
    // The table (1 Mi slots) forgets keys of the 2.4 M as it overfills: a restart knows exactly what the live table knows.
    const liveCopy = new Uint8Array(new SharedArrayBuffer(table.sharedBuffer.byteLength));
    liveCopy.set(new Uint8Array(table.sharedBuffer));
    const live = DedupTable.restore(liveCopy.buffer as SharedArrayBuffer, OPTIONS).table;
    const restored = new DedupCheckpoint(store).restore(new CheckpointStore(join(dir, 'ck')).load()!, OPTIONS, () => {});
    const times = new Float64Array(1);
    let differ = 0;
    let known = 0;
    for (let k = next - 800_000; k < next; k++) {
      times[0] = T0 + k;
      const a = live.insertAt(k * 7919, k ^ 0x5bd1e995, times, 0) === INSERT_DUPLICATE;
      const b = restored.insertAt(k * 7919, k ^ 0x5bd1e995, times, 0) === INSERT_DUPLICATE;
      if (a !== b) differ++;
      if (a) known++;
    }
    expect(differ).toBe(0);
    expect(known).toBeGreaterThan(700_000);
  }, 120_000);

  it('copies a table small enough to copy whole: the snapshot is written from the copy, so later inserts do not reach it', async () => {
    const dir = workdir();
    const store = new CheckpointStore(join(dir, 'ck'));
    const checkpoint = new DedupCheckpoint(store);
    const folds: string[] = [];
    checkpoint.compactWith(async (task) => {
      folds.push(task.output);
      return compactDedup(task);
    });
    const table = checkpoint.fresh(OPTIONS);
    insertKeys(table, checkpoint, 0, 500_000);
    await commit(store, checkpoint, table);
    // Past the journal limit (512 Ki entries).
    insertKeys(table, checkpoint, 500_000, 526_000);
    const { writes, manifest } = checkpoint.prepare(table);
    expect(folds).toHaveLength(0);
    expect(manifest.format).toBe('raw');
    expect(writes.baseIsCopy).toBe(true);
    expect(writes.journal).toBeUndefined();
    const copied = Uint8Array.from(writes.base!);
    // Inserting right away (the store writes the copy in the background) leaves the copy as it was.
    insertKeys(table, checkpoint, 526_000, 527_000);
    expect(Buffer.compare(Buffer.from(writes.base!), Buffer.from(copied))).toBe(0);
    expect(Buffer.compare(Buffer.from(new Uint8Array(table.sharedBuffer)), Buffer.from(copied))).not.toBe(0);
    // Committed, it is the snapshot a restart starts from.
    let generationOfCopy = 0;
    const state: CheckpointState = { generation: (generationOfCopy = ++generation), writtenAtMs: Date.now(), sink: { kind: 'none' }, deadLetter: undefined, dedup: { ...manifest, windowMs: OPTIONS.windowMs, capacity: table.capacity }, files: [] };
    await store.commit(state, writes, async () => {});
    checkpoint.committed(store.lastCommitted!);
    expect(store.lastCommitted!.generation).toBe(generationOfCopy);
    expectRestartKnows(dir, 526_000);
  }, 60_000);
});
