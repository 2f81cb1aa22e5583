/*
 * The engine's checkpoints: opening the directory (lock, reset or load),
 * the schedule (every checkpointInterval, skipped when nothing was read),
 * and one commit (file offsets, output lengths and the dedup table's share,
 * all describing the same moment). The pipeline decides *where* a commit can
 * happen (right after a sink flush); this decides what it contains.
 */
import { resolve } from 'node:path';
import type { ResolvedOptions } from '../config/options.js';
import { CheckpointLock } from '../checkpoint/lock.js';
import { CheckpointStore } from '../checkpoint/store.js';
import { DedupCheckpoint } from '../checkpoint/dedup-state.js';
import type { CheckpointedFile, CheckpointedOutput, CheckpointState } from '../checkpoint/manifest.js';
import type { DedupTable } from '../dedup/table.js';
import { RecordsNotTakenError, type IteratorSink } from '../sinks/iterator-sink.js';
import type { DeadLetterFile } from '../sinks/dead-letter.js';
import type { FileSink } from '../sinks/file-sink.js';
import type { Sink } from '../sinks/sink.js';
import { nativeWriteBackAndDrop } from '../util/write-back.js';
import type { WarningCode } from './warnings.js';

/** What a commit describes, bound once the engine has opened it all. */
export interface CheckpointSubject {
  readonly dedup: DedupTable;
  readonly sink: Sink;
  /** The sink when it is a file: its length is committed (exactly-once output). */
  readonly fileSink: FileSink | undefined;
  readonly deadLetter: DeadLetterFile | undefined;
  /** records(): a checkpoint waits until its loop has taken what it covers. */
  readonly iterator: IteratorSink | undefined;
  /** The sink kind recorded when it is not a file. */
  readonly sinkKind: CheckpointedOutput['kind'];
  /** A file the sink is being switched to (a reload), recorded so a restart can cut it back. */
  readonly nextSink: CheckpointState['nextSink'];
  /** Outputs left behind (a switched sink's flush and close): each commit is durable only after them. */
  readonly outputsLeft: Promise<void> | undefined;
  files(): CheckpointedFile[];
  /** Grows with anything read: equal between two ticks means nothing to commit. */
  progress(): number;
  /** Ask the pipeline for a commit at its next flush point. */
  request(): Promise<void>;
}

export interface CheckpointStats {
  dir: string | undefined;
  committed: number;
  failed: number;
  lastCommittedAtMs: number | undefined;
}

type Warn = (message: string, code: WarningCode) => void;

export class Checkpointer {
  /** The dedup table's share of each commit (snapshot or journal). */
  readonly dedup: DedupCheckpoint;
  private subject: CheckpointSubject | undefined;
  private timer: NodeJS.Timeout | undefined;
  private generation: number;
  private committed = 0;
  /** Told after each checkpoint lands (a NATS input acks what it covers). */
  onCommitted: ((state: CheckpointState) => void) | undefined;
  private failed = 0;
  private lastCommittedAtMs: number | undefined;
  /** Why the latest commit failed; cleared by the next that lands. */
  private failing: string | undefined;
  private lastProgress = -1;
  private final = false;

  private constructor(
    readonly store: CheckpointStore,
    private readonly lock: CheckpointLock,
    /** Dropped by discardRestored() when a transactional sink's own offsets disagree. */
    public restored: CheckpointState | undefined,
    private options: ResolvedOptions,
    private readonly warn: Warn,
  ) {
    this.generation = restored?.generation ?? 0;
    this.dedup = new DedupCheckpoint(store);
  }

  /**
   * Lock the directory (a second engine on it stops here, before anything is
   * touched), then reset it or load the last committed checkpoint.
   */
  static open(options: ResolvedOptions, dir: string, warn: Warn): Checkpointer {
    // Checkpoint files are read only by a restart: each is dropped from the page cache as it is written.
    const store = new CheckpointStore(resolve(dir), nativeWriteBackAndDrop());
    const lock = CheckpointLock.acquire(store.dir, (m) => warn(m, 'ORDERTAIL_CHECKPOINT_LOCK_TAKEN_OVER'));
    let restored: CheckpointState | undefined;
    try {
      if (options.resetCheckpoint) {
        store.reset();
        warn(`checkpoint ${store.manifestPath} reset: starting fresh`, 'ORDERTAIL_CHECKPOINT_RESET');
      } else {
        restored = store.load();
      }
    } catch (err) {
      lock.release();
      throw err;
    }
    return new Checkpointer(store, lock, restored, options, warn);
  }

  /**
   * A transactional sink (a database) committed other offsets than this
   * checkpoint: the sink's are the truth, and this checkpoint's dedup table
   * and outputs describe another moment, so it is emptied, as a reset would.
   */
  discardRestored(why: string): void {
    if (!this.restored) return;
    this.store.reset();
    this.restored = undefined;
    this.warn(`checkpoint ${this.store.manifestPath} discarded: ${why}`, 'ORDERTAIL_CHECKPOINT_RESET');
  }

  get dir(): string {
    return this.store.dir;
  }

  /**
   * Start committing every checkpointInterval. Also with `once`: a long
   * replay killed halfway resumes instead of starting over.
   */
  start(subject: CheckpointSubject): void {
    this.subject = subject;
    this.timer = setInterval(() => this.periodic(), this.options.checkpointIntervalMs);
    this.timer.unref();
    // Nothing committed yet: commit the starting point before the first output, or a
    // crash before the first periodic checkpoint leaves output no restart can roll back.
    if (!this.restored) void subject.request();
  }

  /**
   * The options after a config reload: the next checkpoint records the dedup
   * window in force, and a new interval restarts the schedule (the next
   * commit comes one new interval from now).
   */
  setOptions(options: ResolvedOptions): void {
    const reschedule = this.timer !== undefined && options.checkpointIntervalMs !== this.options.checkpointIntervalMs;
    this.options = options;
    if (!reschedule) return;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.periodic(), options.checkpointIntervalMs);
    this.timer.unref();
  }

  /** No more periodic commits (stopping). */
  stopSchedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last commit at stop, awaited to the manifest's rename. */
  async commitFinal(): Promise<void> {
    if (!this.subject) return;
    this.final = true;
    await this.subject.request();
    await this.store.settled();
  }

  /** The directory is free for the next engine (also when stopping failed). */
  release(): void {
    this.lock.release();
  }

  /**
   * Why the engine is not ready on the checkpoint's account: the latest
   * commit failed (a full or lost checkpoint volume). Records go on flowing,
   * but a restart would resume from the last one that landed and read again
   * all that came after it; said until a commit lands again.
   */
  notReadyReason(): string | undefined {
    if (this.failing === undefined) return undefined;
    const since = this.lastCommittedAtMs === undefined ? 'none committed yet' : `the last committed at ${new Date(this.lastCommittedAtMs).toISOString()}`;
    return `the latest commit failed (${this.failing}); ${since}`;
  }

  stats(): CheckpointStats {
    return { dir: this.store.dir, committed: this.committed, failed: this.failed, lastCommittedAtMs: this.lastCommittedAtMs };
  }

  private noteFailure(err: unknown): void {
    this.failed++;
    this.failing = err instanceof Error ? err.message : String(err);
  }

  private periodic(): void {
    const subject = this.subject;
    if (!subject || this.store.busy) return;
    // Nothing read since the last one: the committed state is still exact.
    if (subject.progress() === this.lastProgress) return;
    void subject.request();
  }

  /**
   * Runs inside the pipeline's emit loop right after a sink flush, so file
   * offsets, output lengths and the dedup table describe the same moment.
   * The table is copied to disk before returning (nothing inserts meanwhile);
   * fsyncs and the manifest rename complete in the background, except for the
   * final checkpoint at stop and the first one, which are awaited.
   */
  async commit(): Promise<void> {
    const store = this.store;
    const subject = this.subject!;
    if (store.busy) {
      if (!this.final) return;
      await store.settled();
    }
    this.lastProgress = subject.progress();
    const { dedup, sink, fileSink, deadLetter, iterator } = subject;
    const { writes, manifest } = this.dedup.prepare(dedup);
    const state: CheckpointState = {
      generation: ++this.generation,
      writtenAtMs: Date.now(),
      sink: fileSink ? fileOutput(fileSink) : { kind: subject.sinkKind },
      ...(subject.nextSink ? { nextSink: subject.nextSink } : {}),
      deadLetter: deadLetter ? fileOutput(deadLetter) : undefined,
      dedup: { ...manifest, windowMs: this.options.dedupWindowMs, capacity: dedup.capacity },
      files: subject.files(),
    };
    // records(): the checkpoint covers what has been written to the queue; it is
    // committed only once the consumer has taken all of it (at-least-once).
    const takenMark = iterator?.written ?? 0;
    const outputsBefore = subject.outputsLeft;
    let stored: Promise<void>;
    try {
      stored = store.commit(state, writes, async () => {
        await outputsBefore;
        await iterator?.whenTaken(takenMark);
        await sink.flush();
        await deadLetter?.flush();
      });
    } catch (err) {
      // Failed before anything was written (the directory gone, say): counted like
      // a commit that failed later; the pipeline's warning names it.
      this.noteFailure(err);
      throw err;
    }
    const committing = stored
      .then(
        () => {
          this.dedup.committed(store.lastCommitted!);
          this.committed++;
          this.onCommitted?.(state);
          this.lastCommittedAtMs = state.writtenAtMs;
          this.failing = undefined;
        },
        (err: unknown) => {
          // The records() loop ended before taking what this checkpoint covers: not
          // committing it is the at-least-once rule at work, not a failure.
          if (err instanceof RecordsNotTakenError) return;
          this.noteFailure(err);
          this.warn(`checkpoint ${state.generation} not committed: ${err instanceof Error ? err.message : String(err)}`, 'ORDERTAIL_CHECKPOINT_FAILED');
        },
      );
    // The first commit (no earlier one to fall back on) is awaited too where a
    // restart rolls output back to a committed length (a file sink, the dead
    // letters): their output waits for it. stdout cannot be rolled back anyway.
    const rollsBack = fileSink !== undefined || deadLetter !== undefined;
    if (this.final || (state.generation === 1 && rollsBack)) await committing;
  }
}

/** A file output as a checkpoint names it: its length and identity only when a restart can cut it back to them (a regular file, not a FIFO or /dev/null). */
function fileOutput(file: { path: string; bytesWritten: number; identity: string; regularFile: boolean }): CheckpointedOutput {
  const where = { kind: 'file' as const, path: resolve(file.path) };
  return file.regularFile ? { ...where, committedBytes: file.bytesWritten, identity: file.identity } : where;
}
