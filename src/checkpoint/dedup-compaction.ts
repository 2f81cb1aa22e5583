/**
 * Folding a committed dedup journal into a new snapshot, away from the main
 * thread (it runs on a parse worker: workers/parse-worker.ts exports it).
 *
 * A restart rebuilds the table from the snapshot and then the journal; doing
 * that ahead of time, from the committed files alone, gives the snapshot a
 * restart would have, so later checkpoints need only the keys inserted after
 * that journal. The live table is never scanned or copied for it: a full
 * snapshot of the live table holds the main thread (and the live lane) for as
 * long as the scan of the whole table takes.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DedupEntries } from '../dedup/entries.js';
import { ENTRY_BYTES } from '../dedup/layout.js';
import { DedupTable } from '../dedup/table.js';

export interface DedupCompactionTask {
  readonly dir: string;
  readonly base: { readonly format: 'raw' | 'entries'; readonly file: string; readonly byteLength: number };
  readonly journal: { readonly file: string; readonly byteLength: number };
  readonly capacity: number;
  readonly windowMs: number;
  /** The new snapshot's file name in `dir`. */
  readonly output: string;
}

export interface DedupCompactionResult {
  readonly file: string;
  readonly byteLength: number;
  /** Journal entries folded in: the in-memory journal drops this many from its start. */
  readonly journalEntries: number;
}

export function compactDedup(task: DedupCompactionTask): DedupCompactionResult {
  const options = { capacity: task.capacity, windowMs: task.windowMs };
  const base = task.base.file === '' ? new Uint8Array(0) : readFileSync(join(task.dir, task.base.file));
  if (base.byteLength !== task.base.byteLength) throw new Error(`${task.base.file}: ${base.byteLength} bytes where ${task.base.byteLength} were committed`);
  let table: DedupTable;
  if (task.base.format === 'entries') {
    table = DedupTable.fromEntries(base, options);
  } else {
    const shared = new Uint8Array(new SharedArrayBuffer(base.byteLength));
    shared.set(base);
    table = DedupTable.restore(shared.buffer as SharedArrayBuffer, options).table;
  }
  const journal = readFileSync(join(task.dir, task.journal.file)).subarray(0, task.journal.byteLength);
  table.insertEntries(new DedupEntries(journal));
  table.prepareSnapshot();
  // Sized to what the table holds (an estimate, with room to spare), not to its capacity.
  let held = DedupEntries.allocate(Math.min(table.capacity, Math.ceil(table.stats().entries * 1.1) + 1024));
  let n = table.exportEntries(held);
  if (n < 0) {
    held = DedupEntries.allocate(table.capacity);
    n = table.exportEntries(held);
  }
  const bytes = held.prefix(n);
  const tmp = join(task.dir, `${task.output}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(task.dir, task.output));
  return { file: task.output, byteLength: bytes.byteLength, journalEntries: task.journal.byteLength / ENTRY_BYTES };
}
