/**
 * The dedup table's part of a checkpoint: restoring a table from the last
 * committed snapshot and the journal of keys inserted after it, and deciding
 * what each commit writes (a full snapshot, or only the journal extending the
 * snapshot already on disk). The engine decides when to commit; this knows
 * what the table's share of a commit is.
 */
import { join } from 'node:path';
import { DedupEntries } from '../dedup/entries.js';
import { ENTRY_BYTES, tableBytes } from '../dedup/layout.js';
import { DedupTable, type DedupTableOptions } from '../dedup/table.js';
import { DedupJournal } from './dedup-journal.js';
import { heldEntriesOrRaw, type DedupCompactionResult, type DedupCompactionTask } from './dedup-compaction.js';
import { CheckpointError } from './errors.js';
import type { CheckpointState } from './manifest.js';
import type { CheckpointStore } from './store.js';

/**
 * Journal entries after which the committed journal is folded into a new
 * snapshot, or the table copied whole (COPY_SNAPSHOT_MAX_BYTES): bounds both
 * the journal (memory, file) and a restart's replay. Between the bounds, that
 * happens once the journal holds half as many keys as the table has room for.
 */
const JOURNAL_LIMIT_MIN_ENTRIES = 512 * 1024;
const JOURNAL_LIMIT_MAX_ENTRIES = 4 * 1024 * 1024;

/**
 * A table up to this size is snapshotted by copying its memory on the main
 * thread (one memcpy into a buffer kept for it, then written off the main
 * thread): cheaper than scanning it for its entries, and than folding the
 * journal on a worker, which re-inserts every key and so costs the main
 * thread's own insert work again on the other core (bench/RESULTS.md,
 * "checkpoints at 300k records/s"). Larger tables are folded.
 */
const COPY_SNAPSHOT_MAX_BYTES = 256 * 1024 * 1024;

export function journalLimitEntries(tableCapacity: number): number {
  return Math.min(JOURNAL_LIMIT_MAX_ENTRIES, Math.max(JOURNAL_LIMIT_MIN_ENTRIES, Math.floor(tableCapacity / 2)));
}

type SnapshotRef = Pick<CheckpointState['dedup'], 'format' | 'file' | 'byteLength'>;
/** A first run's base: the empty table, no file; its first checkpoints write only the journal. */
const EMPTY_BASE: SnapshotRef = { format: 'entries', file: '', byteLength: 0 };

/** What one commit writes for the table, and the manifest's description of it. */
export interface DedupCommit {
  /**
   * `baseIsCopy`: the snapshot bytes are a copy that stays unchanged until the
   * commit settles (written off the main thread); otherwise they are the live
   * table's memory and must be written before anything inserts again.
   */
  readonly writes: { base?: Uint8Array; baseIsCopy?: boolean; journal?: Uint8Array[] };
  readonly manifest: SnapshotRef;
}

export class DedupCheckpoint {
  /** Keys inserted as NEW since the snapshot `base` names, in order (the emit stage pushes them). */
  readonly journal = new DedupJournal();
  /** The committed snapshot the journal extends; undefined: the next commit takes a full one. */
  private base: SnapshotRef | undefined;
  /** Reused between snapshots; its pages are touched only as far as entries fill it. */
  private snapshotEntries: DedupEntries | undefined;
  /** Reused between snapshots of a table small enough to copy whole. */
  private rawCopy: Uint8Array | undefined;
  private prefault: ((bytes: Uint8Array) => void) | undefined;
  private compactor: ((task: DedupCompactionTask) => Promise<DedupCompactionResult>) | undefined;
  /** A fold of the committed journal under way. */
  private compacting: Promise<void> | undefined;
  /** A finished fold (and the snapshot it folded into), taken as the base by the next commit. */
  private compacted: { result: DedupCompactionResult; from: string } | undefined;

  /** `copyMaxBytes`: the largest table snapshotted by copying it (COPY_SNAPSHOT_MAX_BYTES); larger ones are folded. */
  constructor(
    private readonly store: CheckpointStore,
    private readonly copyMaxBytes = COPY_SNAPSHOT_MAX_BYTES,
  ) {}

  /**
   * Fault in the pages of the buffer a table copy goes into with `prefault`
   * (the addon's populateInBackground), once the journal is half way to its
   * limit: the first copy otherwise pays a page fault per 4 KiB on the main thread.
   */
  prefaultWith(prefault: (bytes: Uint8Array) => void): void {
    this.prefault = prefault;
  }

  /** Fold journals into snapshots with `compactor` (a parse worker) instead of snapshotting the live table. */
  compactWith(compactor: (task: DedupCompactionTask) => Promise<DedupCompactionResult>): void {
    this.compactor = compactor;
  }

  /** A table for a run with nothing to restore. */
  fresh(options: DedupTableOptions): DedupTable {
    this.base = EMPTY_BASE;
    return DedupTable.create(options);
  }

  /**
   * The table as `restored` committed it: its snapshot, then its journal
   * replayed (and kept, so the next commit goes on extending that snapshot).
   * A different capacity re-inserts the entries (`onRehash` says so); the next
   * commit then writes a full snapshot.
   */
  restore(restored: CheckpointState, options: DedupTableOptions, onRehash: (from: number, to: number) => void): DedupTable {
    const table = this.readSnapshot(restored, options);
    if (table.capacity !== restored.dedup.capacity) onRehash(restored.dedup.capacity, table.capacity);
    const journal = new DedupEntries(this.store.readJournal(restored));
    table.insertEntries(journal);
    this.journal.pushAll(journal);
    if (table.capacity === restored.dedup.capacity) this.base = { format: restored.dedup.format, file: restored.dedup.file, byteLength: restored.dedup.byteLength };
    return table;
  }

  private readSnapshot(restored: CheckpointState, options: DedupTableOptions): DedupTable {
    const bytes = this.store.readDedup(restored);
    if (restored.dedup.format === 'entries') return DedupTable.fromEntries(bytes, options);
    try {
      return DedupTable.restore(bytes.buffer as SharedArrayBuffer, options).table;
    } catch (err) {
      throw new CheckpointError(join(this.store.dir, restored.dedup.file), 'is not a dedup table this version of ordertail can read', { cause: err });
    }
  }

  /**
   * The table's share of the commit being prepared: a full snapshot at first
   * and once the journal has grown past its limit (restarts replay it),
   * otherwise only the journal, which costs nothing on the main thread (a full
   * snapshot scans or copies the whole table). Until committed() confirms it,
   * the next commit takes a full snapshot again.
   */
  prepare(table: DedupTable): DedupCommit {
    const done = this.compacted;
    if (done) {
      this.compacted = undefined;
      this.store.unpin(done.result.file);
      // The fold of an earlier commit's journal is on disk: it is the base now,
      // and the journal keeps only the keys inserted after that commit (valid
      // while the snapshot it folded into is still the base).
      if (this.base !== undefined && this.base.file === done.from) {
        this.journal.dropFirst(done.result.journalEntries);
        this.base = { format: done.result.format, file: done.result.file, byteLength: done.result.byteLength };
      }
    }
    const base = this.base;
    this.base = undefined;
    const limit = journalLimitEntries(table.capacity);
    const overLimit = this.journal.length > limit;
    // A fold that cannot keep up (its worker starved of CPU) must not let the
    // journal grow without bound: past twice the limit the live table is snapshotted.
    if (overLimit && base !== undefined && this.folds(table.capacity) && this.journal.length <= 2 * limit) {
      // Normally under way since the over-limit journal was committed; this retries a fold that failed.
      this.startCompaction(base.file, table.capacity);
    } else if (base === undefined || overLimit) {
      table.prepareSnapshot();
      const snapshot = this.snapshot(table);
      this.journal.reset();
      return { writes: { base: snapshot.bytes, baseIsCopy: snapshot.isCopy }, manifest: { format: snapshot.format, file: '', byteLength: 0 } };
    }
    if (this.journal.length > limit / 2 && this.copies(table)) this.rawCopyFor(table);
    // No key since the snapshot (the first commit, an idle stream): no journal
    // file, one file creation and fsync fewer.
    return { writes: { journal: this.journal.length > 0 ? this.journal.segments() : undefined }, manifest: base };
  }

  /**
   * Fold the last committed journal into a new snapshot on the compactor (one
   * at a time), when that commit extends the snapshot `baseFile` the next
   * commit builds on: a fold of an older base is thrown away when it lands.
   */
  private startCompaction(baseFile: string, capacity: number): void {
    const committed = this.store.lastCommitted;
    if (this.compacting || this.compacted || !committed?.dedup.journal) return;
    if (committed.dedup.capacity !== capacity || committed.dedup.file !== baseFile) return;
    const output = `dedup-folded-${committed.generation}.bin`;
    this.store.pin(output);
    const task: DedupCompactionTask = {
      dir: this.store.dir,
      base: { format: committed.dedup.format, file: committed.dedup.file, byteLength: committed.dedup.byteLength },
      journal: committed.dedup.journal,
      capacity: committed.dedup.capacity,
      windowMs: committed.dedup.windowMs,
      output,
    };
    // Its inputs too: the next commit's clean-up would otherwise delete the
    // journal it replaces while the fold has yet to read it.
    const inputs = [task.journal.file, task.base.file].filter((file) => file !== '');
    for (const file of inputs) this.store.pin(file);
    this.compacting = this.compactor!(task).then(
      (result) => {
        this.compacted = { result, from: task.base.file };
      },
      () => {
        // Not folded this time: the journal goes on growing, and the next limit check tries again.
        this.store.unpin(output);
      },
    ).finally(() => {
      for (const file of inputs) this.store.unpin(file);
      this.compacting = undefined;
    });
  }

  /**
   * Keys went into the table without passing through the journal (seeded from
   * a database): the next commit takes a full snapshot, or a restart from it
   * would not know them.
   */
  insertedOutsideJournal(): void {
    this.base = undefined;
  }

  /**
   * The commit landed: its snapshot is the base later journals extend. A
   * journal committed over its limit starts folding now rather than at the
   * next commit: at a high insert rate, a fold that starts one commit late
   * finds the journal grown by another interval's keys, and past twice the
   * limit the live table is snapshotted on the main thread instead.
   */
  committed(state: CheckpointState): void {
    this.base = { format: state.dedup.format, file: state.dedup.file, byteLength: state.dedup.byteLength };
    const journalEntries = (state.dedup.journal?.byteLength ?? 0) / ENTRY_BYTES;
    if (this.folds(state.dedup.capacity) && journalEntries > journalLimitEntries(state.dedup.capacity)) {
      this.startCompaction(state.dedup.file, state.dedup.capacity);
    }
  }

  /**
   * A follower's table is copied (the live lane must not wait for a write of
   * it); a --once run, with no compactor, writes it from its own memory
   * instead and holds no copy (its peak memory is a figure of the replay).
   */
  private copies(table: DedupTable): boolean {
    return this.compactor !== undefined && table.sharedBuffer.byteLength <= this.copyMaxBytes;
  }

  /**
   * The buffer a copy of `table` goes into. Reused: the store writes one
   * commit at a time, and a commit is prepared only when none is in flight.
   */
  private rawCopyFor(table: DedupTable): Uint8Array {
    const bytes = table.sharedBuffer.byteLength;
    if (this.rawCopy?.byteLength !== bytes) {
      this.rawCopy = new Uint8Array(bytes);
      this.prefault?.(this.rawCopy);
    }
    return this.rawCopy;
  }

  /** Whether an over-limit journal is folded on the compactor, rather than the table copied. */
  private folds(capacity: number): boolean {
    return this.compactor !== undefined && tableBytes(capacity) > this.copyMaxBytes;
  }

  /**
   * A copy of the table's memory when it is small enough (see
   * COPY_SNAPSHOT_MAX_BYTES); else its held entries, a copy (written off the
   * main thread), or its raw memory itself once a restore would have to sort
   * that many entries.
   */
  private snapshot(table: DedupTable): { format: 'raw' | 'entries'; bytes: Uint8Array; isCopy: boolean } {
    const raw = table.sharedBuffer;
    if (this.copies(table)) {
      const copy = this.rawCopyFor(table);
      copy.set(new Uint8Array(raw));
      return { format: 'raw', bytes: copy, isCopy: true };
    }
    const snapshot = heldEntriesOrRaw(table, (held) => {
      if (!this.snapshotEntries || this.snapshotEntries.capacity < held) {
        // Room for some growth, so the next snapshots reuse it.
        this.snapshotEntries = DedupEntries.allocate(Math.min(Math.floor(raw.byteLength / ENTRY_BYTES), Math.max(65_536, Math.ceil(held * 1.5))));
      }
      return this.snapshotEntries;
    });
    // The entries are a copy; the raw table is the live memory.
    return { ...snapshot, isCopy: snapshot.format === 'entries' };
  }
}
