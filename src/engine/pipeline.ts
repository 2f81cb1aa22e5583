/*
 * The main thread's loop over followed files: plan ranges, dispatch them to the
 * pool, emit completed ranges in file order, and hold emission still for a
 * checkpoint. Opening files lives in sources/file-opener.ts, what a file is in
 * sources/file-set.ts. Over 400 lines because planning, emission and the
 * checkpoint barrier share the in-flight bookkeeping (ready ranges, buffers).
 */
import { inCanary } from '../pool/canary.js';
import type { ResolvedOptions } from '../config/options.js';
import type { WarningCode } from './warnings.js';
import { EngineError } from '../config/errors.js';
import type { EmitStage, ReadyRange } from './emit-stage.js';
import type { LiveLane } from './live-lane.js';
import { Counter, TRUNCATED_DOCUMENT_REASON, TRUNCATED_DOCUMENT_SLOT, type Counters } from '../metrics/counters.js';
import { ArrayPhase, Framing, type RejectReason } from '../parser/contract.js';
import { BufferPool } from '../pool/buffer-pool.js';
import type { ParsePool } from '../pool/parse-pool.js';
import { ResultStorePool, type RangeResults } from '../pool/range-results.js';
import type { RangeOutcome } from '../pool/range-task.js';
import type { StagingBuffer } from '../sinks/staging.js';
import { FileCursor, IdentityLostError, type PlannedRange } from '../sources/file-cursor.js';
import { GrowthWatch, PollGroup } from '../sources/growth-watch.js';
import { FdBudget } from '../sources/fd-budget.js';
import { descriptorBudget } from '../sources/fd-limit.js';
import { errnoCode, isTransientOpenError } from '../sources/input-check.js';
import type { Unread } from '../sources/open-retry.js';
import { UnwrittenSpace } from '../sources/unwritten-space.js';
import { byPriority, FileSet } from '../sources/file-set.js';
import { FileOpener, type AddReason } from '../sources/file-opener.js';
import type { CheckpointedFile } from '../checkpoint/manifest.js';
import type { FileTelemetry } from '../metrics/telemetry.js';
import { fileLogger, rangeLogger, type Logger } from '../metrics/logger.js';
import { microsSince, type StageHistograms } from '../metrics/stages.js';
import type { PathHooks } from '../modes/path-hooks.js';
import type { EmitLock } from '../modes/emit-lock.js';
import type { PathComparison } from '../modes/comparison.js';

interface InFlightRange {
  readonly id: number;
  readonly file: FileCursor;
  readonly plan: PlannedRange;
  readonly buffer: SharedArrayBuffer;
  readonly bytes: Buffer;
  readonly results: RangeResults;
  readonly observedAt: number;
  readonly arrivalEpochMs: number;
  readonly live: boolean;
  outcome?: RangeOutcome;
  log?: Logger;
  /** Slots emitted so far (history is emitted in slices while files are followed). */
  emittedTo: number;
}

export interface PipelineEvents {
  warn(message: string, code: WarningCode): void;
  fail(error: Error): void;
  idle(): void;
  /** Input rejected as a whole (a truncated `.json` array), already counted: dead-letter it. */
  reject(entry: { file: string; offset: number; reason: RejectReason; sample: string }): void;
  /** Records up to every file's committed point are in the sink: commit a checkpoint now. */
  checkpoint?(): Promise<void> | void;
}

export type { AddReason } from '../sources/file-opener.js';

/** A renamed-away or deleted file is let go once drained and unchanged this long (writers may still hold it). */
const LET_GO_MS = 2000;
/** A descriptor needed to plan a range could not be reopened (EMFILE): planning is tried again this soon. */
const REOPEN_RETRY_MS = 100;
/**
 * While files are followed, history is emitted in slices of this many slots,
 * and the emit loop gives the event loop a turn once a pass has run this long,
 * then starts its next pass with the live files: growth noticed meanwhile is
 * emitted within about a slice, not after the whole backlog of history ranges.
 */
const EMIT_SLICE_SLOTS = 1024;
/** Files found by a reload's new input patterns opened per event-loop turn (an open is a few syscalls and a read). */
const FOUND_SLICE = 64;
const EMIT_SLICE_MS = 1;
/**
 * Hybrid mode's batch path re-reads closed files the live path has emitted,
 * all duplicates, while the live file grows: its passes are shorter, so a
 * live record waits at most about this long behind one (bench/RESULTS.md,
 * "hybrid").
 */
const BATCH_SLICE_SLOTS = 256;
const BATCH_SLICE_MS = 0.25;
/** The one error a run fails with when its sink cannot be written. */
export function sinkWriteFailed(sinkName: string, err: unknown): EngineError {
  return new EngineError('ORDERTAIL_SINK', `writing to ${sinkName} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** The batch path's per-record report (made here: a closure inside emitLoop would put its loop variables in a context). */
function batchObserver(batch: PathComparison, file: FileCursor): (offset: number, emitted: boolean) => void {
  return (offset, emitted) => batch.batchRecord(file.identity, file.path, offset, emitted);
}

/** What the emit stage is given of a range whose turn has come. */
function readyRange(file: FileCursor, range: InFlightRange, batch: PathComparison | undefined): ReadyRange {
  return {
    path: file.path,
    origin: file.identity,
    progress: file,
    tally: file,
    bytes: range.bytes,
    bufferFilePos: range.outcome!.bufferFilePos,
    results: range.results,
    observedAt: range.observedAt,
    arrivalEpochMs: range.arrivalEpochMs,
    live: range.live,
    observe: batch ? batchObserver(batch, file) : undefined,
  };
}

/**
 * Range buffers in use at once. Following: workers×2 keeps every worker fed
 * while one range per worker waits its turn to be emitted, and the rest is
 * kept so the live file is never starved by history. A `--once` run has no
 * live file, and the main thread emits one range at a time: one range per
 * worker, the one being emitted and one parsed and waiting keep both stages
 * busy; fewer measured slower, the follower's count no faster, and each
 * buffer is ~4 MiB resident (bench/RESULTS.md, 2026-12-05).
 */
const rangeBufferLimit = (workers: number, once: boolean): number => (once ? workers + 2 : workers * 2 + 2);

export function rangeBuffers(options: ResolvedOptions): BufferPool {
  return new BufferPool(options.rangeBytes + options.maxRecordBytes + 1, rangeBufferLimit(options.workers, options.once));
}

/**
 * Range ids tag result slots in the pool's rings: unique across the pipelines
 * sharing one pool (hybrid mode's live and batch paths), hence one counter for all.
 */
let nextRangeId = 1;

/**
 * The main thread's loop: files → planned ranges → pool → completed ranges →
 * emission in order. Ranges of the live file are planned and emitted before
 * history. Memory is bounded by the buffer pool: a range holds its buffer from
 * planning until it is emitted.
 */
export class Pipeline {
  /** The followed files and what identifies them (sources/file-set.ts). */
  private readonly set = new FileSet();
  private readonly fds: FdBudget;
  /** Opens files, retries failed opens, finds renamed checkpointed files (sources/file-opener.ts). */
  private readonly opener: FileOpener;
  private rescheduleTimer: NodeJS.Timeout | undefined;
  private readonly polls: PollGroup;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Followed files ending in space their writer preallocated, looked at for records written over it. */
  private readonly unwrittenSpace: UnwrittenSpace;
  private checkpointDue = false;
  private scheduleQueued = false;
  private checkpointWaiters: (() => void)[] = [];
  private readonly watches = new Map<FileCursor, GrowthWatch>();
  /** Files a reload's new input patterns found, waiting to be opened (a slice per event-loop turn). */
  private readonly found: string[] = [];
  /** Files no input pattern matches any more (a config reload): planned no further, retired once their ranges are out. */
  private readonly releasing = new Set<FileCursor>();
  private readonly ready = new Map<FileCursor, Map<number, InFlightRange>>();
  /** Files with parsed ranges waiting to be emitted: an emit pass visits these, not every file (a directory of thousands). */
  private readonly withReady = new Set<FileCursor>();
  /** Truncated files waiting for their ranges in flight before they are read again (finishTruncation). */
  private readonly truncatedFiles = new Set<FileCursor>();
  /**
   * Leading files of `set.files` that were idle when schedule() last walked
   * them, and the set's version then: a walk because a buffer came back starts
   * past them. An idle file becomes readable again only by growth, finish()
   * or a new cursor (truncation), whose paths walk from the start.
   */
  private idlePrefix = 0;
  private idlePrefixVersion = -1;
  private readonly buffers: BufferPool;
  private readonly stores = new ResultStorePool();
  private readonly bytesViews = new WeakMap<SharedArrayBuffer, Buffer>();
  private lowWatermarkAt = Number.NEGATIVE_INFINITY;
  private inFlight = 0;
  private stopping = false;
  private emitting: Promise<void> | undefined;
  /**
   * The emit loop is running. Set before it starts: its first pass runs (and
   * may reach checkIdle through schedule()) before `emitting` is assigned,
   * and idle then would resolve finished() with a batch still being written.
   */
  private emitLoopRunning = false;
  private emitAgain = false;
  /**
   * The emit loop waits for the sink in the middle of a pass, and the file of
   * the range it is emitting then (undefined between ranges): live ranges
   * that can go ahead are emitted meanwhile (emitAside).
   */
  private sinkWait = false;
  private sinkWaitFile: FileCursor | undefined;
  /** Sent with each range (RangeTask.shadowSample): a reload changes it without touching the worker threads. */
  private shadowSample: number;
  /** Share of files whose ranges the canary parser takes (pool/canary.ts); 0 without one. */
  private canaryShare: number;
  /** An emit pass is under way, and the lock it holds (hybrid mode): released at the pass's end. */
  private inPass = false;
  private passLock: EmitLock | undefined;
  private failed = false;
  /** Wakes drain() when an in-flight range completes or fails. */
  private rangeSettled: (() => void) | undefined;
  /** Per-file and per-range child loggers exist only at debug level: nothing allocated otherwise. */
  private readonly debug: boolean;
  private readonly fileLogs = new Map<FileCursor, Logger>();
  /** Files whose NUL padding has been warned about. */
  private readonly paddingSaid = new WeakSet<FileCursor>();
  /** Idle means nothing once every file present at start-up has been added. */
  private accepting = false;
  private readonly startedAt = performance.now();

  constructor(
    private readonly options: ResolvedOptions,
    /** The parse threads; made (and loaded) on first use when the run started none (a small `--once` run). */
    private readonly pool: () => ParsePool | Promise<ParsePool>,
    private readonly emitter: EmitStage,
    private readonly staging: StagingBuffer,
    private readonly counters: Counters,
    private readonly stages: StageHistograms,
    private readonly logger: Logger,
    private readonly events: PipelineEvents,
    /** Follow mode: small growth parsed on this thread (engine/live-lane.ts). */
    private readonly liveLane?: LiveLane,
    /** Hybrid mode: which of the two paths this pipeline is (modes/path-hooks.ts); the live path's change with the mode (setHooks). */
    private hooks?: PathHooks,
    /**
     * Range buffers to draw from instead of a pool of its own: hybrid's batch
     * paths, one after another across mode switches, share one. A buffer
     * handed to a worker thread stays alive until that thread's GC, which an
     * idle worker seldom runs: new buffers for every batch path would pile up.
     */
    buffers?: BufferPool,
  ) {
    this.debug = logger.isLevelEnabled('debug');
    this.shadowSample = options.shadowSample;
    this.canaryShare = options.canaryParser ? options.canaryShare : 0;
    this.buffers = buffers ?? rangeBuffers(options);
    const budget = descriptorBudget(options.maxOpenFiles);
    if (budget.max < options.maxOpenFiles) {
      this.events.warn(`maxOpenFiles ${options.maxOpenFiles} capped to ${budget.max}: the open files limit (RLIMIT_NOFILE) is ${budget.limit} and ${budget.inUse} descriptors are in use`, 'ORDERTAIL_OPEN_FILES_CAPPED');
    }
    this.fds = new FdBudget(budget.max);
    this.opener = new FileOpener(options, this.set, this.fds, {
      isStopping: () => this.stopping,
      register: (file) => this.register(file),
      schedule: () => this.schedule(),
      warn: (message, code) => this.events.warn(message, code),
      info: (message) => this.logger.info(message),
    });
    this.polls = new PollGroup((m) => this.events.warn(m, 'ORDERTAIL_WATCH_UNAVAILABLE'));
    this.unwrittenSpace = new UnwrittenSpace(
      (file) => this.onWrittenInPlace(file),
      (message) => this.logger.info(message),
    );
    if (!options.once) {
      this.sweepTimer = setInterval(() => this.sweep(), 500);
      this.sweepTimer.unref();
    }
  }

  /**
   * The live path joins hybrid mode (hooks) or leaves it (undefined) at run
   * time (a mode switch by config reload). A pass under way when the lock
   * arrives takes it at once (a new lock, which nobody holds yet): the batch
   * path must not emit until that pass is over, or a checkpoint the pass
   * commits could hold keys whose records the sink does not have yet. A lock
   * of an earlier hybrid period it still holds is let go (that batch path is
   * drained and gone before the live path leaves it).
   */
  setHooks(hooks: PathHooks | undefined): void {
    if (this.hooks?.role === 'batch' || hooks?.role === 'batch') throw new Error('setHooks: the batch path is made with its hooks');
    this.hooks = hooks;
    if (this.inPass && hooks && this.passLock !== hooks.lock) {
      if (!hooks.lock.tryAcquire()) throw new Error('setHooks: the new lock is already held');
      this.passLock?.release();
      this.passLock = hooks.lock;
    }
  }

  /** Share of ranges the shadow parser re-parses from the next range planned on (a reload). */
  setShadowSample(sample: number): void {
    this.shadowSample = sample;
  }

  /** Files from a checkpoint: matched by identity as they are added. */
  resumeFrom(files: readonly CheckpointedFile[]): void {
    this.set.resumeFrom(files);
  }

  /**
   * A path matched the input: start reading the file there, or recognise it
   * (sources/file-opener.ts and file-set.ts say what it is).
   */
  addFile(path: string, reason: AddReason, fromEnd = false): void {
    this.opener.add(path, reason, fromEnd);
  }

  /**
   * Files that input patterns added by a config reload found. They existed
   * before the reload, so they are read as files present at start-up are:
   * history, parsed on the pool, not on this thread as live growth is (a
   * large old file would hold up emitting). They are opened FOUND_SLICE per
   * event-loop turn after the reload returns, so its pause stays short.
   */
  addFound(paths: readonly string[]): void {
    const idle = this.found.length === 0;
    this.found.push(...paths);
    if (idle && paths.length > 0) setImmediate(() => this.openFound());
  }

  private openFound(): void {
    for (const path of this.found.splice(0, FOUND_SLICE)) this.opener.add(path, 'startup');
    if (this.found.length > 0 && !this.stopping) setImmediate(() => this.openFound());
    else this.found.length = 0;
  }

  /**
   * No input pattern matches `path` any more (a config reload): plan nothing
   * more of the file there; once the ranges already planned are emitted, it
   * is let go where it stands (that offset is in the next checkpoint, and a
   * reload that matches it again resumes from there: no record twice).
   */
  release(path: string): void {
    const file = this.set.atPath(path);
    if (!file) return;
    this.releasing.add(file);
    // Not from inside an emit pass: the pass walks the file list (it retires them at its end).
    if (!this.emitLoopRunning) this.retireReleased();
  }

  /** Released files with nothing in flight: retired now. */
  private retireReleased(): void {
    for (const file of this.releasing) {
      if (!this.set.has(file)) this.releasing.delete(file);
      else if (file.outstanding === 0 && this.ready.get(file)!.size === 0) this.retire(file);
    }
  }

  /** An input that cannot be read at all (a directory that cannot be listed): listed as unread. */
  markUnread(path: string, why: string): void {
    this.opener.markUnread(path, why);
  }

  /** Inputs that could not be read (with `once`: given up after retries, or unreadable by nature). */
  get unread(): Unread[] {
    return this.opener.unread;
  }

  /** Checkpointed files no input path matched at start-up: found where they were renamed to, or reported gone. */
  recoverMoved(): void {
    this.opener.recoverMoved();
  }

  /** A small new file waits to be classified: its content changes are worth a look. */
  isSettling(path: string): boolean {
    return this.opener.isSettling(path);
  }

  /** Files registered so far (renames of a known file are not new files). */
  get fileCount(): number {
    return this.opener.fileCount;
  }

  /** Follow a file from `offset` (a file skipped by ignoreOlder that changed). */
  addFileAt(path: string, offset: number): void {
    this.opener.addAt(path, offset);
  }

  /** A `.json` array read to its end without its closing `]` (cut off, or still being written). */
  private unterminated(file: FileCursor, end: number): void {
    this.counters.values[Counter.rejected]!++;
    this.counters.rejectsByCode[TRUNCATED_DOCUMENT_SLOT]!++;
    this.events.warn(`${file.path}: JSON array ends at byte ${end} without its closing ']' (truncated?); the elements before were emitted`, 'ORDERTAIL_INPUT_TRUNCATED');
    this.events.reject({ file: file.path, offset: end, reason: TRUNCATED_DOCUMENT_REASON, sample: '' });
  }

  /** A checkpoint (still unmatched) knows this file identity. */
  isCheckpointed(identity: string): boolean {
    return this.set.isKnown(identity);
  }

  /** Mark the newest start-up file as the live one. */
  markLive(path: string): void {
    const file = this.set.atPath(path);
    if (file) this.set.markLive(file);
  }

  private register(file: FileCursor): void {
    if (this.debug) {
      const log = fileLogger(this.logger, `f${file.id}`, file.path);
      this.fileLogs.set(file, log);
      log.debug({ size: file.observedSize, live: file.live, start: file.committed.offset, copyOf: file.copyOf?.path }, 'file opened');
    }
    this.set.add(file);
    this.ready.set(file, new Map());
    // Legacy mode reads a closed file once, whole: what is appended later is not followed.
    if (!this.options.once && this.options.mode !== 'legacy' && this.hooks?.role !== 'batch') {
      this.watches.set(file, new GrowthWatch(file.path, () => this.onGrowth(file), this.polls));
    }
    if (!file.isOpen) return;
    // Descriptors are opened on demand: close this one again if others need the room.
    if (file.idle && this.fds.openCount > this.fds.max) file.closeFd();
    this.schedule();
  }

  private onGrowth(file: FileCursor): void {
    if (this.stopping || !this.set.has(file)) return;
    let change: 'grew' | 'same' | 'shrank';
    const sizeSeen = file.observedSize;
    try {
      change = file.refreshSize(performance.now());
    } catch (err) {
      if (err instanceof IdentityLostError) this.lost(file, err.message);
      return;
    }
    if (change === 'shrank') {
      const size = file.currentSize();
      // Preallocated space cut off past where reading stands (its writer closed the file): nothing read is gone.
      if (file.unwrittenFrom !== undefined && this.set.headUnchanged(file) && file.trimUnwritten(size)) return this.onWrittenInPlace(file);
      this.markTruncated(file, `truncated (size now ${size} < ${file.observedSize} bytes seen)`);
      this.finishTruncation(file);
      return;
    }
    // Grown, or changed at the same size: is what was read still there? (A change at the same size is a write in place.)
    if (!file.truncated && !this.set.headUnchanged(file)) {
      this.markTruncated(
        file,
        `rewritten: its first ${file.lastingFingerprint.bytes} bytes are not those read before (overwritten in place, or truncated and written back to at least the ${sizeSeen} bytes seen before the truncation could be seen)`,
      );
      this.finishTruncation(file);
      return;
    }
    if (change !== 'grew') {
      if (file.lookAtUnwritten()) this.onWrittenInPlace(file);
      return;
    }
    // A copy that grows into other bytes than its original's was a file that only began as it: read it, from its start.
    if (file.copyOf && !this.set.copyHolds(file.fd, file.currentSize(), file.copyOf)) {
      this.fileLogs.get(file)?.debug({ copyOf: file.copyOf.path }, 'not a copy after all: grew into other bytes than the original; read from the start');
      file.copyOf = undefined;
    }
    if (file.grewPastDocument && !file.documentGrowthSaid) {
      file.documentGrowthSaid = true;
      this.events.warn(
        `${file.path} grew after it was read as a whole JSON document (a .json file is read once, to the size it had when found): what was added is not read. ` +
          'Append records to an NDJSON file (one per line, any other extension), or write each document as a new file',
        'ORDERTAIL_INPUT_DOCUMENT_CHANGED',
      );
    }
    this.set.markLive(file);
    this.scheduleFile(file);
  }

  /** Records were written over a file's preallocated space (UnwrittenSpace): read them as growth is. */
  private onWrittenInPlace(file: FileCursor): void {
    if (this.stopping || !this.set.has(file)) return;
    this.set.markLive(file);
    this.scheduleFile(file);
  }

  /**
   * Plan and dispatch as many ranges as buffers allow, live files first.
   * `bufferBack`: called because a pool buffer came back, which makes no idle
   * file readable, so the walk starts past the leading idle files (otherwise
   * a --once run over thousands of small files walks all of them per range:
   * quadratic).
   */
  schedule(bufferBack = false): void {
    if (this.stopping || this.failed) return;
    const lost: [FileCursor, string][] = [];
    const files = this.set.files;
    const from = bufferBack && this.idlePrefixVersion === this.set.version ? Math.min(this.idlePrefix, files.length) : 0;
    let idlePrefix = from;
    let leading = true;
    for (let i = from; i < files.length; i++) {
      const file = files[i]!;
      // Live files come first (FileSet's order): past them, nothing goes out without a spare buffer.
      if (!file.live && this.buffers.available <= 1) break;
      if (leading && file.idle) idlePrefix = i + 1;
      else leading = false;
      this.plan(file, lost);
    }
    this.idlePrefix = idlePrefix;
    this.idlePrefixVersion = this.set.version;
    this.afterPlanning(lost);
  }

  /**
   * Plan one file whose own state changed (it grew, or a range of it
   * completed): the others are as the last walk left them, so planning them
   * again would find what it found then (a directory of thousands of files
   * appended side by side would be walked whole per append).
   */
  private scheduleFile(file: FileCursor): void {
    if (this.stopping || this.failed) return;
    if (!this.set.has(file)) return this.checkIdle();
    // It may be among the leading files a walk after a range skips as idle: not any more.
    if (this.idlePrefix > 0 && this.idlePrefixVersion === this.set.version) {
      const at = this.set.files.indexOf(file);
      if (at >= 0 && at < this.idlePrefix) this.idlePrefix = at;
    }
    const lost: [FileCursor, string][] = [];
    if (file.live || this.buffers.available > 1) this.plan(file, lost);
    this.afterPlanning(lost);
  }

  /** Dispatch what `file` has to read, as far as buffers allow; a file that cannot be reopened goes to `lost`. */
  private plan(file: FileCursor, lost: [FileCursor, string][]): void {
    if (this.releasing.size > 0 && this.releasing.has(file)) return;
    // Reopen a file whose descriptor was closed only when a range of it can go out now (the
    // conditions of the loop below): one reopened for nothing is the least recently used
    // descriptor the next reopen closes, and a thousand files waiting for buffers would take
    // turns opening and closing each other on every pass.
    const chainCanGo = file.hasChainRange && this.buffers.available > (file.live ? 0 : 1);
    if (!file.isOpen && (chainCanGo || (file.hasHistoryLeft && this.buffers.available > 1))) {
      try {
        void file.fd;
      } catch (err) {
        // Out of descriptors for a moment: the file is not lost, plan it again shortly.
        if (!(err instanceof IdentityLostError) && isTransientOpenError(errnoCode(err))) {
          this.rescheduleTimer ??= setTimeout(() => {
            this.rescheduleTimer = undefined;
            this.schedule();
          }, REOPEN_RETRY_MS);
          return;
        }
        lost.push([file, err instanceof Error ? err.message : String(err)]);
        return;
      }
    }
    for (;;) {
      // The last buffer is kept for growth of live files: not for other files,
      // and not for a live file's own backlog (history read at start-up).
      if (this.buffers.available <= (file.live ? 0 : 1)) break;
      const chain = file.nextChainRange(this.options.once);
      if (chain) {
        this.dispatch(file, chain);
        continue;
      }
      if (this.buffers.available <= 1) break;
      const history = file.nextHistoryRange();
      if (!history) break;
      this.dispatch(file, history);
    }
  }

  private afterPlanning(lost: [FileCursor, string][]): void {
    // Removed after planning: retiring a file changes the list being walked.
    for (const [file, why] of lost) this.lost(file, why);
    this.checkIdle();
  }

  private dispatch(file: FileCursor, plan: PlannedRange): void {
    // Growth observed after start-up is the live stream; the rest is history.
    const live = plan.chain && file.observedAt > this.startedAt;
    const lane = this.liveLane?.takes(plan, live) ? this.liveLane : undefined;
    const buffer = lane ? lane.acquire(plan) : this.buffers.acquire()!;
    let bytes = this.bytesViews.get(buffer);
    if (!bytes) this.bytesViews.set(buffer, (bytes = Buffer.from(buffer)));
    const range: InFlightRange = {
      id: nextRangeId++,
      file,
      plan,
      buffer,
      bytes,
      results: this.stores.acquire(),
      observedAt: plan.chain ? file.observedAt : performance.now(),
      arrivalEpochMs: Date.now(),
      live,
      emittedTo: 0,
    };
    this.inFlight++;
    if (this.debug) {
      range.log = rangeLogger(this.fileLogs.get(file)!, `r${range.id}`, plan.start, plan.end);
      range.log.debug({ seq: plan.seq, chain: plan.chain, hardEnd: plan.hardEnd, lane: lane ? 'live' : 'pool' }, 'range planned');
    }
    const task = {
      rangeId: range.id,
      fd: file.fd,
      buffer,
      start: plan.start,
      end: plan.end,
      hardEnd: plan.hardEnd,
      final: plan.final,
      framing: plan.framing,
      carryPhase: plan.carryPhase,
      skipFirstPartial: plan.skipFirstPartial,
      skipUntilNewline: plan.skipUntilNewline,
      sequential: plan.chain,
      ...(plan.overUnwritten ? { overUnwritten: true } : {}),
      shadowSample: this.shadowSample,
      canary: inCanary(file.identity, this.canaryShare),
    };
    if (task.canary) {
      this.counters.values[Counter.canaryRanges]!++;
      this.counters.values[Counter.canaryBytes]! += plan.end - plan.start;
    }
    if (lane) {
      // Parsed now; completed after the planning pass (schedule() is walking the files).
      let outcome: RangeOutcome;
      try {
        outcome = lane.parse(task, range.results);
      } catch (err) {
        queueMicrotask(() => this.onRangeFailed(range, err));
        return;
      }
      queueMicrotask(() => this.onRangeDone(range, outcome));
      return;
    }
    const pool = this.pool();
    (pool instanceof Promise ? pool.then((p) => p.run(task, range.results)) : pool.run(task, range.results)).then(
      (outcome) => this.onRangeDone(range, outcome),
      (err: unknown) => this.onRangeFailed(range, err),
    );
  }

  private settle(): void {
    this.inFlight--;
    const wake = this.rangeSettled;
    this.rangeSettled = undefined;
    wake?.();
  }

  private onRangeDone(range: InFlightRange, outcome: RangeOutcome): void {
    this.settle();
    range.outcome = outcome;
    range.log?.debug({ consumedEnd: outcome.consumedEnd, slots: outcome.slots, bytesRead: outcome.bytesRead }, 'range parsed');
    this.counters.values[Counter.bytesRead]! += outcome.bytesRead;
    this.counters.values[Counter.rangesCompleted]!++;
    if (outcome.stageHistograms) this.stages.merge(outcome.stageHistograms);
    if (outcome.shadowCompared > 0) {
      this.counters.values[Counter.shadowCompared]! += outcome.shadowCompared;
      this.counters.values[Counter.shadowMismatches]! += outcome.shadowMismatches;
      if (outcome.shadowMismatches > 0) {
        this.events.warn(
          `parser shadow mismatch: ${outcome.shadowMismatches} record(s) in ${range.file.path}, first at offset ${outcome.bufferFilePos + outcome.shadowFirstMismatch}`,
          'ORDERTAIL_SHADOW_MISMATCH',
        );
      }
    }
    if (outcome.shrank) {
      range.results.reset();
      this.markTruncated(range.file, `truncated (shorter than ${range.plan.hardEnd} bytes while being read)`);
    }
    const space = outcome.unwrittenFrom === undefined || outcome.shrank ? undefined : { from: outcome.unwrittenFrom, writtenAfter: outcome.writtenAfter === true };
    range.file.complete(range.plan, outcome.consumedEnd, outcome.carryPhase, outcome.skipUntilNewline, space);
    if (range.plan.chain) this.unwrittenSpace.update(range.file, range.plan.hardEnd);
    this.ready.get(range.file)!.set(range.plan.seq, range);
    this.withReady.add(range.file);
    if (this.sinkWait && range.live) this.emitAside();
    void this.emitReady();
    // Its buffer is still held (until its records are written): only this file can have more to plan.
    this.scheduleFile(range.file);
  }

  /** NUL bytes were read over between records: counted, and said once per file (with where they start). */
  private paddingRead(file: FileCursor, bytes: number, at: number): void {
    this.counters.values[Counter.paddingBytes]! += bytes;
    if (this.paddingSaid.has(file)) return;
    this.paddingSaid.add(file);
    this.events.warn(
      `${file.path}: NUL bytes from offset ${at} read over as padding between records (a hole a writer without O_APPEND leaves after logrotate's copytruncate, space a writer preallocated and left unused, or a crash); ` +
        'the records before and after them are read. Further NUL bytes in it are counted (stats().paddingBytes, ordertail_input_nul_padding_bytes_total), not logged',
      'ORDERTAIL_INPUT_NUL_PADDING',
    );
  }

  private onRangeFailed(range: InFlightRange, err: unknown): void {
    this.settle();
    this.failed = true;
    this.events.fail(
      new EngineError('ORDERTAIL_WORKER', `parsing ${range.file.path} [${range.plan.start}, ${range.plan.end}) failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
    );
  }

  /**
   * A range buffer is free again (its records emitted and written): put it to
   * work at once. Buffers the sink wrote from in the background come back
   * between passes of the emit loop, which would otherwise schedule only at
   * its next pass end.
   */
  private releaseBuffer(buffer: SharedArrayBuffer): void {
    if (this.liveLane?.owns(buffer)) {
      // Planning waits on pool buffers only: a live-lane buffer coming back lets nothing new go out.
      this.liveLane.release(buffer);
      return;
    }
    this.buffers.release(buffer);
    if (this.scheduleQueued) return;
    this.scheduleQueued = true;
    queueMicrotask(() => {
      this.scheduleQueued = false;
      this.schedule(true);
    });
  }

  /** The sink (or a stage before it) threw: the engine fails with one clear error; nothing more is emitted. */
  private onEmitFailed(err: unknown): void {
    this.failed = true;
    this.emitAgain = false;
    this.events.fail(sinkWriteFailed(this.staging.sinkName, err));
  }

  /** Emit every range whose predecessors are out, live files first; one pass at a time. */
  emitReady(): Promise<void> {
    if (this.emitting) {
      this.emitAgain = true;
      return this.emitting;
    }
    // Asked from inside the loop's first, synchronous pass (a sink's write, a
    // checkpoint request), before `emitting` is set: that loop goes round again.
    if (this.emitLoopRunning) {
      this.emitAgain = true;
      return Promise.resolve();
    }
    if (this.failed) return Promise.resolve();
    this.emitLoopRunning = true;
    this.emitting = this.emitLoop().catch((err: unknown) => this.onEmitFailed(err)).finally(() => {
      this.emitLoopRunning = false;
      this.emitting = undefined;
      // A range may have completed after the loop's last pass but before this
      // callback ran (the loop ends synchronously when no sink waits): go again.
      if (this.emitAgain) void this.emitReady();
      else this.checkIdle();
    });
    return this.emitting;
  }

  private async emitLoop(): Promise<void> {
    // Only while following (the live lane exists): a --once run emits files in a fixed order.
    // The batch path slices too: its whole files must not hold up the live path's turns.
    const slicing = this.liveLane !== undefined || this.hooks?.role === 'batch';
    const batch = this.hooks?.role === 'batch' ? this.hooks.comparison : undefined;
    const sliceSlots = batch ? BATCH_SLICE_SLOTS : EMIT_SLICE_SLOTS;
    const sliceMs = batch ? BATCH_SLICE_MS : EMIT_SLICE_MS;
    const c = this.counters.values;
    do {
      // Per pass, not per loop: the live path's hooks come and go with a mode switch (setHooks).
      const lock = this.hooks?.lock;
      if (lock && !lock.tryAcquire()) await lock.acquire();
      this.passLock = lock;
      this.inPass = true;
      let yieldNow = false;
      let checkpointNow = false;
      try {
        this.emitAgain = false;
        // The batch path's old files say nothing of the live streams' event-time progress.
        if (!batch) this.refreshLowWatermark();
        const passStart = performance.now();
        let partial = false;
        const visit = this.withReady.size === 0 ? [] : [...this.withReady].sort(byPriority);
        files: for (const file of visit) {
          const waiting = this.ready.get(file);
          if (!waiting) continue; // removed while the pass waited for the sink
          for (let range = waiting.get(file.emitSeq); range; range = waiting.get(file.emitSeq)) {
            const count = range.results.count;
            const ready = readyRange(file, range, batch);
            while (range.emittedTo < count) {
              const end = slicing && !range.live ? Math.min(count, range.emittedTo + sliceSlots) : count;
              const t0 = performance.now();
              const emitted0 = c[Counter.recordsEmitted]!;
              const duplicates0 = c[Counter.duplicates]!;
              const done = this.emitter.emitSlice(ready, range.emittedTo, end, t0);
              if (done !== true) await this.waitForSink(done, file);
              // Counter differences are this slice's alone: the two paths' passes never overlap (the lock).
              const live = this.hooks?.role === 'live' ? this.hooks.comparison : undefined;
              if (live) live.liveSlice(file.identity, c[Counter.recordsEmitted]! - emitted0, c[Counter.duplicates]! - duplicates0);
              this.stages.dedup.recordValue(microsSince(t0));
              range.emittedTo = end;
              if (end < count && slicing && performance.now() - passStart >= sliceMs) {
                yieldNow = partial = true;
                break files;
              }
            }
            this.finishRange(file, range, waiting, batch);
            // A checkpoint is wanted (a transactional sink's batch is full): take it at
            // this range boundary rather than after every ready range, so a pass over a
            // large backlog does not make one commit of it all.
            if (this.checkpointDue) {
              checkpointNow = true;
              break files;
            }
            if (slicing && performance.now() - passStart >= sliceMs) {
              yieldNow = true;
              break files;
            }
          }
        }
        // Every truncated file, not only those this pass visited: one whose last range went out in an
        // earlier pass that stopped early (a checkpoint, a yield) has nothing ready to bring it back here.
        if (this.truncatedFiles.size > 0) for (const file of [...this.truncatedFiles]) this.finishTruncation(file);
        if (this.releasing.size > 0) this.retireReleased();
        const flushed = this.staging.flushToSink();
        if (flushed !== true) await this.waitForSink(flushed, undefined);
        // A range half emitted has keys in the table and records in the sink that
        // its file's offset does not cover yet: no checkpoint until it is whole.
        if (this.checkpointDue && !partial) await this.runCheckpoint();
      } finally {
        this.inPass = false;
        this.passLock?.release();
        this.passLock = undefined;
      }
      // No planning here: what a pass frees (buffers, once the sink has written their records) plans as it comes back (releaseBuffer).
      if (checkpointNow) {
        this.emitAgain = true;
        continue;
      }
      if (yieldNow) {
        // A turn for the event loop (inotify, the live lane), then a new pass, live files first.
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.emitAgain = true;
        continue;
      }
      if (!this.emitAgain && !this.checkpointDue) {
        // Idle only once the sink has written everything.
        const drained = this.staging.drained();
        if (drained !== true) await drained;
      }
    } while (this.emitAgain || this.checkpointDue);
  }

  /** A range's records are all emitted: the file moves on to its next range. */
  private finishRange(file: FileCursor, range: InFlightRange, waiting: Map<number, InFlightRange>, batch: PathComparison | undefined): void {
    waiting.delete(file.emitSeq);
    if (waiting.size === 0) this.withReady.delete(file);
    file.emitSeq++;
    range.log?.debug({ records: range.results.count }, 'range emitted');
    const o = range.outcome!;
    file.markEmitted(range.plan, o.consumedEnd, o.carryPhase, o.skipUntilNewline);
    // Here, in file order, so the warning names the first run.
    if (o.paddingBytes && !o.shrank) this.paddingRead(file, o.paddingBytes, o.paddingAt!);
    const live = this.hooks?.role === 'live' ? this.hooks.comparison : undefined;
    if (live) live.liveRange(file.identity, o.consumedEnd);
    else if (batch && file.idle && waiting.size === 0) batch.batchFileDone(file.identity);
    if (range.plan.framing === Framing.Array && o.consumedEnd >= range.plan.hardEnd && o.carryPhase !== ArrayPhase.Done) this.unterminated(file, o.consumedEnd);
    // Out to the sink now, not at the pass's end, behind whatever history the pass still emits.
    if (range.live) this.staging.flushAhead();
    // The staging buffer may still write runs of records straight from these bytes.
    const buffer = range.buffer;
    this.staging.releaseAfterFlush(() => this.releaseBuffer(buffer));
    this.stores.release(range.results);
  }

  /** The pass waits for the sink (`wait`) while emitting a range of `file`, or between ranges. */
  private async waitForSink(wait: Promise<void>, file: FileCursor | undefined): Promise<void> {
    this.sinkWait = true;
    this.sinkWaitFile = file;
    try {
      this.emitAside();
      await wait;
    } finally {
      this.sinkWait = false;
      this.sinkWaitFile = undefined;
    }
  }

  /**
   * While a pass waits for the sink (a backfill's output queued ahead of a
   * slow reader), live ranges whose records can go ahead of that output
   * (StagingBuffer.canWriteAhead: none of their file's bytes wait in it) are
   * emitted now, each whole, in their file's order, instead of after the
   * wait. Not in hybrid mode: its comparison counts a slice's records by the
   * counters' difference across the wait.
   */
  private emitAside(): void {
    if (this.failed || this.hooks || !this.staging.writesAhead) return;
    for (const file of this.set.files) {
      // Live files come first (FileSet's order).
      if (!file.live) break;
      if (file === this.sinkWaitFile || file.truncated) continue;
      const waiting = this.ready.get(file)!;
      for (let range = waiting.get(file.emitSeq); range?.live && range.emittedTo === 0; range = waiting.get(file.emitSeq)) {
        if (!this.staging.canWriteAhead(file.identity)) break;
        const t0 = performance.now();
        this.emitter.emitAside(readyRange(file, range, undefined), t0);
        this.stages.dedup.recordValue(microsSince(t0));
        range.emittedTo = range.results.count;
        this.finishRange(file, range, waiting, undefined);
      }
    }
  }

  /**
   * The dedup table's low watermark: the event-time progress of the slowest
   * file that still has bytes to emit (one not started yet holds it at
   * −∞); with none pending, the fastest one's. It only tells which forgotten
   * keys were still inside the window (dedup/layout.ts, "Forgetting"), so a
   * value a few ms old is as good: recomputed at most every 20 ms.
   */
  private refreshLowWatermark(): void {
    const now = performance.now();
    if (now - this.lowWatermarkAt < 20) return;
    this.lowWatermarkAt = now;
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (const file of this.set.files) {
      if (file.maxEventTime > high) high = file.maxEventTime;
      if (file.copyOf || file.committed.offset >= file.observedSize) continue;
      if (file.maxEventTime < low) low = file.maxEventTime;
    }
    this.emitter.setLowWatermark(low === Number.POSITIVE_INFINITY ? high : low);
  }

  /** Everything emitted so far is in the sink (just flushed): let the engine commit it. */
  private async runCheckpoint(): Promise<void> {
    this.checkpointDue = false;
    const waiters = this.checkpointWaiters;
    this.checkpointWaiters = [];
    try {
      await this.events.checkpoint?.();
    } catch (err) {
      this.events.warn(`checkpoint failed: ${err instanceof Error ? err.message : String(err)}`, 'ORDERTAIL_CHECKPOINT_FAILED');
    } finally {
      for (const w of waiters) w();
    }
  }

  /** Share of files the canary parser takes from the next range planned on (a reload); ranges in flight keep theirs. */
  setCanaryShare(share: number): void {
    if (this.options.canaryParser) this.canaryShare = share;
  }

  /** The worker count changed (a reload): ranges in flight at once follow it. */
  setWorkers(workers: number): void {
    this.buffers.setLimit(rangeBufferLimit(workers, this.options.once));
    this.schedule();
  }

  /** Commit a checkpoint at the next point where the sink holds every emitted record. */
  requestCheckpoint(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.checkpointWaiters.push(resolve);
      this.checkpointDue = true;
      void this.emitReady();
    });
  }

  /** Every file's resume point, for a checkpoint (call only from the checkpoint hook). */
  checkpointFiles(): CheckpointedFile[] {
    return this.set.checkpointFiles();
  }

  /** Stop planning a file that got shorter; finishTruncation() re-reads it once its ranges are out. */
  private markTruncated(file: FileCursor, how: string): void {
    if (file.truncated) return;
    file.truncated = true;
    this.truncatedFiles.add(file);
    this.events.warn(`${file.path} ${how}; reading it again from offset 0 once the ranges in flight are out`, 'ORDERTAIL_INPUT_TRUNCATED');
  }

  /** Emitted ranges are out of a truncated file: re-read it from 0, and let copies of it take over. */
  private finishTruncation(file: FileCursor): void {
    if (!file.truncated || file.outstanding > 0 || this.ready.get(file)!.size > 0) return;
    // No input pattern matches it any more (a reload): let it go rather than read it again.
    if (this.releasing.has(file)) return this.retire(file);
    const position = file.committed.offset;
    this.set.rememberTruncation(file, position);
    for (const copy of this.set.copiesOf(file)) {
      // The copy holds the content up to the truncation: read it past where the original stood.
      this.remove(copy);
      // (Its size seen so far may be stale: it can still have been growing while being copied; the cursor clamps to the real size.)
      this.opener.reopenAt(copy.path, { kind: 'resume', point: { offset: position, skipPartial: false, carryPhase: 0 } });
    }
    this.remove(file);
    this.opener.reopenAt(file.path, { kind: 'start' });
  }

  /** Forget a cursor (its descriptor, watch and registrations). */
  private remove(file: FileCursor): void {
    this.unwrittenSpace.forget(file);
    this.watches.get(file)?.close();
    this.watches.delete(file);
    this.set.remove(file);
    this.ready.delete(file);
    this.withReady.delete(file);
    this.truncatedFiles.delete(file);
    this.fileLogs.delete(file);
    file.close();
  }

  /** A file whose descriptor was closed and whose path now names another file. */
  private lost(file: FileCursor, why: string): void {
    this.events.warn(`${why}; bytes appended to it after its descriptor was closed may be missed`, 'ORDERTAIL_INPUT_LOST');
    this.retire(file);
  }

  /** Done with a file: remember where it ended (checkpoints, re-appearance), close it. */
  private retire(file: FileCursor): void {
    this.releasing.delete(file);
    this.remove(file);
    this.set.retire(file);
  }

  /**
   * Periodic: let go of drained files that were rotated away or deleted, and
   * close descriptors of idle files beyond the budget.
   */
  private sweep(): void {
    if (this.stopping) return;
    if (this.releasing.size > 0 && !this.emitLoopRunning) this.retireReleased();
    const now = performance.now();
    for (const file of [...this.set.files]) {
      if (file.outstanding > 0 || this.ready.get(file)!.size > 0) continue;
      let deleted = false;
      if (file.isOpen) {
        try {
          deleted = file.links() === 0;
        } catch {
          deleted = true;
        }
      }
      if (!file.detached && !deleted) continue;
      // Pick up growth the watch may not have reported (writers keep appending to a renamed file for a while).
      this.onGrowth(file);
      if (!file.idle || now - file.lastChangeAt < LET_GO_MS) continue;
      // An unterminated last line is read as a record first; the file is let go once that is out.
      if (file.finish()) {
        this.schedule();
        continue;
      }
      this.retire(file);
    }
  }

  /** The initial files are all added: from now on, idle is meaningful. */
  startupComplete(): void {
    this.accepting = true;
    this.schedule();
  }

  private checkIdle(): void {
    if (!this.accepting || this.inFlight > 0 || this.emitLoopRunning || this.opener.pendingRetries > 0) return;
    // Idle matters to a --once run (it is done) and to descriptors over the budget: a follower
    // within its budget need not look at every file each time its emit loop settles.
    if (!this.options.once && this.fds.openCount <= this.fds.max) return;
    if (this.set.files.some((f) => !f.idle)) return;
    // Idle: descriptors beyond the budget can go now.
    if (this.fds.openCount > this.fds.max) for (const f of this.set.files) if (f.isOpen && f.idle) f.closeFd();
    this.events.idle();
  }

  /** Stop planning, let in-flight ranges finish, emit them. */
  async drain(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.unwrittenSpace.close();
    this.opener.close();
    clearTimeout(this.rescheduleTimer);
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    this.polls.close();
    while (this.inFlight > 0 || this.emitting) {
      if (this.emitting) await this.emitting;
      else await new Promise<void>((resolve) => (this.rangeSettled = resolve));
    }
    await this.emitReady();
  }

  close(): void {
    for (const f of this.set.files) f.close();
  }

  /** Files followed and how far behind each is. */
  fileTelemetry(): FileTelemetry[] {
    return this.set.files.map((f) => {
      const sizeBytes = f.currentSize();
      // Space a writer preallocated is not behind: nothing is written there yet.
      const written = Math.min(sizeBytes, f.unwrittenFrom ?? sizeBytes);
      return { path: f.path, live: f.live, sizeBytes, readBytes: f.emittedBytes, lagBytes: f.copyOf ? 0 : Math.max(0, written - f.emittedBytes) };
    });
  }

  /** Whether bytes of the file at `path` are still to be emitted (undefined: this pipeline does not read it). */
  hasUnemitted(path: string): boolean | undefined {
    const f = this.set.atPath(path);
    if (!f) return undefined;
    return f.outstanding > 0 || this.ready.get(f)!.size > 0 || f.emittedBytes < f.currentSize();
  }

  /** Descriptors open on input files. */
  get openFiles(): number {
    return this.fds.openCount;
  }

  /** Ranges planned and not yet emitted. */
  get rangesInFlight(): number {
    let waiting = 0;
    for (const m of this.ready.values()) waiting += m.size;
    return this.inFlight + waiting;
  }
}
