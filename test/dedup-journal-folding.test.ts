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

describe('dedup journal folding', () => {
  it('folds the committed journal off the main thread; the next checkpoint writes only newer keys, and a restart still knows every key', async () => {
    const dir = workdir();
    const store = new CheckpointStore(join(dir, 'ck'));
    const checkpoint = new DedupCheckpoint(store);
    const folds: string[] = [];
    checkpoint.compactWith(async (task) => {
      folds.push(task.output);
      return compactDedup(task);
    });
    const table = checkpoint.fresh(OPTIONS);
    // Past the journal limit (512 Ki entries for this capacity), committed as a journal.
    insertKeys(table, checkpoint, 0, 525_000);
    await commit(store, checkpoint, table);
    // The next commit finds the journal over its limit: a fold of the committed one starts.
    insertKeys(table, checkpoint, 525_000, 527_000);
    const second = await commit(store, checkpoint, table);
    expect(folds).toHaveLength(1);
    expect(second.dedup.file).toBe('');
    await new Promise((r) => setTimeout(r, 50));
    // The fold is taken as the base; the journal keeps only keys after the folded commit.
    insertKeys(table, checkpoint, 527_000, 530_000);
    const third = await commit(store, checkpoint, table);
    expect(third.dedup.file).toBe(folds[0]);
    expect(third.dedup.journal!.byteLength).toBe(5_000 * 16);
    expect(readdirSync(join(dir, 'ck')).sort()).toEqual(['checkpoint.msgpack', folds[0]!, third.dedup.journal!.file].sort());

    // A restart from it knows all 530 k keys, and a new one is new.
    const restored = new CheckpointStore(join(dir, 'ck')).load()!;
    const again = new DedupCheckpoint(store).restore(restored, OPTIONS, () => {});
    const times = new Float64Array([T0]);
    let duplicates = 0;
    for (let k = 0; k < 530_000; k++) {
      times[0] = T0 + k;
      if (again.insertAt(k * 7919, k ^ 0x5bd1e995, times, 0) === INSERT_DUPLICATE) duplicates++;
    }
    expect(duplicates).toBe(530_000);
    times[0] = T0;
    expect(again.insertAt(123, 456, times, 0)).not.toBe(INSERT_DUPLICATE);
  }, 60_000);
});
