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
import { DedupTable, entriesNeedOrdering } from '../dedup/table.js';

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
  readonly format: 'raw' | 'entries';
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
  const { format, bytes } = heldEntriesOrRaw(table, (estimate) => DedupEntries.allocate(Math.min(table.capacity, Math.ceil(estimate * 1.1) + 1024)));
  const tmp = join(task.dir, `${task.output}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(task.dir, task.output));
  return { file: task.output, format, byteLength: bytes.byteLength, journalEntries: task.journal.byteLength / ENTRY_BYTES };
}

/**
 * A snapshot of `table`: its held entries, exported into `entriesFor(the
 * estimated count)`, or its raw memory itself (not a copy) once a restore
 * would have to sort that many entries or they do not fit there.
 */
export function heldEntriesOrRaw(table: DedupTable, entriesFor: (estimate: number) => DedupEntries): { format: 'raw' | 'entries'; bytes: Uint8Array } {
  const raw = { format: 'raw' as const, bytes: new Uint8Array(table.sharedBuffer) };
  const estimate = table.stats().entries;
  if (entriesNeedOrdering(estimate, table.capacity)) return raw;
  const into = entriesFor(estimate);
  const n = table.exportEntries(into);
  if (n < 0 || entriesNeedOrdering(n, table.capacity)) return raw;
  return { format: 'entries', bytes: into.prefix(n) };
}
