import type { ResolvedOptions } from '../config/options.js';
import type { WarningCode } from './warnings.js';
import { EngineError } from '../config/errors.js';
import type { EmitStage } from '../dedup/emit-stage.js';
import { Counter, TRUNCATED_DOCUMENT_REASON, TRUNCATED_DOCUMENT_SLOT, type Counters } from '../metrics/counters.js';
import { ArrayPhase, Framing, type RejectReason } from '../parser/contract.js';
import { BufferPool } from '../pool/buffer-pool.js';
import type { ParsePool } from '../pool/parse-pool.js';
import { ResultStorePool, type RangeResults } from '../pool/range-results.js';
import type { RangeOutcome } from '../pool/range-task.js';
import type { StagingBuffer } from '../sinks/staging.js';
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { FileCursor, IdentityLostError, type PlannedRange, type StartAt } from '../sources/file-cursor.js';
import { GrowthWatch, PollGroup } from '../sources/growth-watch.js';
import { FdBudget } from '../sources/fd-budget.js';
import { descriptorBudget } from '../sources/fd-limit.js';
import { errnoCode, inputStatus, isTransientOpenError } from '../sources/input-check.js';
import { OpenRetries, type Unread } from '../sources/open-retry.js';
import { fingerprintOf, identityOfFd, identityOfPath } from '../checkpoint/identity.js';
import { FileSet, findByIdentity, fingerprintMatches, isCopyOf } from '../sources/file-set.js';
import type { CheckpointedFile } from '../checkpoint/manifest.js';
import type { FileTelemetry } from '../metrics/telemetry.js';
import { fileLogger, rangeLogger, type Logger } from '../metrics/logger.js';
import { microsSince, type StageHistograms } from '../metrics/stages.js';

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

/** How a file came to be added. */
export type AddReason = 'startup' | 'discovered';

/** A small new file is classified (new or copy) once it reaches the fingerprint size or stays unchanged this long. */
const SETTLE_MS = 300;
/** A renamed-away or deleted file is let go once drained and unchanged this long (writers may still hold it). */
const LET_GO_MS = 2000;
/** With `once`, opens retried this often (backoff 0.1 → 1.6 s, ~3 s in all) before an input is listed as unread. */
const ONCE_OPEN_ATTEMPTS = 5;
/** A descriptor needed to plan a range could not be reopened (EMFILE): planning is tried again this soon. */
const REOPEN_RETRY_MS = 100;

/**
 * The main thread's loop: files → planned ranges → pool → completed ranges →
 * emission in order. Ranges of the live file are planned and emitted before
 * history. Memory is bounded by the buffer pool: a range holds its buffer from
 * planning until it is emitted.
 */
export class Pipeline {
  /** The followed files and what identifies them (sources/file-set.ts). */
  private readonly set = new FileSet();
  /** Small new files waiting to be classified (path → first seen). */
  private readonly settling = new Map<string, number>();
  private readonly fds: FdBudget;
  /** Inputs whose open failed for a reason that may pass: retried, never skipped. */
  private readonly retries: OpenRetries<{ reason: AddReason; fromEnd: boolean }>;
  private retryTimer: NodeJS.Timeout | undefined;
  private rescheduleTimer: NodeJS.Timeout | undefined;
  private readonly polls: PollGroup;
  private sweepTimer: NodeJS.Timeout | undefined;
  private checkpointDue = false;
  private scheduleQueued = false;
  private checkpointWaiters: (() => void)[] = [];
  private readonly watches = new Map<FileCursor, GrowthWatch>();
  private readonly ready = new Map<FileCursor, Map<number, InFlightRange>>();
  private readonly buffers: BufferPool;
  private readonly stores = new ResultStorePool();
  private readonly bytesViews = new WeakMap<SharedArrayBuffer, Buffer>();
  private nextRangeId = 1;
  private lowWatermarkAt = Number.NEGATIVE_INFINITY;
  private nextFileId = 1;
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
  private failed = false;
  /** Wakes drain() when an in-flight range completes or fails. */
  private rangeSettled: (() => void) | undefined;
  /** Per-file and per-range child loggers exist only at debug level: nothing allocated otherwise. */
  private readonly debug: boolean;
  private readonly fileLogs = new Map<FileCursor, Logger>();
  /** Idle means nothing once every file present at start-up has been added. */
  private accepting = false;
  private readonly startedAt = performance.now();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly pool: ParsePool,
    private readonly emitter: EmitStage,
    private readonly staging: StagingBuffer,
    private readonly counters: Counters,
    private readonly stages: StageHistograms,
    private readonly logger: Logger,
    private readonly events: PipelineEvents,
  ) {
    this.debug = logger.isLevelEnabled('debug');
    // Workers×2 keeps every worker fed while one range per worker waits its
    // turn to be emitted; +1 is reserved so the live file is never starved by history.
    this.buffers = new BufferPool(options.rangeBytes + options.maxRecordBytes + 1, options.workers * 2 + 2);
    const budget = descriptorBudget(options.maxOpenFiles);
    if (budget.max < options.maxOpenFiles) {
      this.events.warn(`maxOpenFiles ${options.maxOpenFiles} capped to ${budget.max}: the open files limit (RLIMIT_NOFILE) is ${budget.limit} and ${budget.inUse} descriptors are in use`, 'ORDERTAIL_OPEN_FILES_CAPPED');
    }
    this.fds = new FdBudget(budget.max);
    this.retries = new OpenRetries(options.once ? ONCE_OPEN_ATTEMPTS : Infinity);
    this.polls = new PollGroup((m) => this.events.warn(m, 'ORDERTAIL_WATCH_UNAVAILABLE'));
    if (!options.once) {
      this.sweepTimer = setInterval(() => this.sweep(), 500);
      this.sweepTimer.unref();
    }
  }

  /** Files from a checkpoint: matched by identity as they are added. */
  resumeFrom(files: readonly CheckpointedFile[]): void {
    this.set.resumeFrom(files);
  }

  /**
   * A path matched the input: start reading the file there, or recognise it.
   * The same file (device + inode) under a new name is a rename; a different
   * file under a known name means the old one was rotated away or replaced
   * (it is drained, then let go); a byte copy of a followed file is a
   * copytruncate rotation (read only past where its original stood).
   */
  addFile(path: string, reason: AddReason, fromEnd = false): void {
    if (this.stopping) return;
    const seen = identityOfPath(path);
    if (!seen) {
      if (!this.cannotLook(path, reason, fromEnd)) this.pathGone(path);
      return;
    }
    const known = this.set.byId(seen.key);
    if (known) {
      this.set.moveTo(known, path, performance.now());
      return;
    }
    const atPath = this.set.atPath(path);
    if (atPath) this.set.detach(atPath, path, performance.now());
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      this.openFailed(path, errnoCode(err), reason, fromEnd);
      return;
    }
    const attempts = this.retries.settled(path);
    if (attempts > 0) this.logger.info(`${path}: opened after ${attempts} failed attempt(s)`);
    const identity = identityOfFd(fd);
    if (this.set.byId(identity.key)) {
      closeSync(fd);
      return;
    }
    const fingerprint = fingerprintOf(fd);
    let start: StartAt = { kind: reason === 'startup' && fromEnd ? 'end' : 'start' };
    let copyOf: FileCursor | undefined;
    const checkpointed = this.set.takeCheckpointed(identity.key, fd, identity.size);
    if (checkpointed) {
      const { entry, point } = checkpointed;
      if (checkpointed.mismatch === 'replaced') this.events.warn(`${path}: same inode as checkpointed ${entry.path} but different content (inode reused); reading it from the start`, 'ORDERTAIL_INPUT_REPLACED');
      if (checkpointed.mismatch === 'truncated') this.events.warn(`${path} truncated while ordertail was stopped (${identity.size} bytes < checkpointed offset ${entry.offset}); reading it from the start`, 'ORDERTAIL_INPUT_TRUNCATED');
      if (point) start = { kind: 'resume', point };
      if (point && entry.copyOf) copyOf = this.set.byId(entry.copyOf);
      if (copyOf && !isCopyOf(fd, fingerprint, copyOf)) copyOf = undefined;
    } else {
      const retired = this.set.takeRetired(identity.key, fd);
      if (retired) {
        start = { kind: 'resume', point: retired };
      } else if (reason === 'discovered' && fingerprint.bytes < 1024 && !this.settled(path)) {
        // Still being written (a copy in progress looks like a small new file): look again shortly.
        closeSync(fd);
        return;
      } else {
        copyOf = this.set.copyOrigin(fd, fingerprint, identity.key, reason === 'discovered');
        const truncated = copyOf ? undefined : this.set.truncatedOrigin(fd, fingerprint);
        if (truncated !== undefined) start = { kind: 'resume', point: { offset: Math.min(truncated, identity.size), skipPartial: false, carryPhase: 0 } };
      }
    }
    this.settling.delete(path);
    let file: FileCursor;
    try {
      file = new FileCursor(this.nextFileId++, path, this.options.rangeBytes, start, performance.now(), this.fds, fd);
    } catch (err) {
      closeSync(fd);
      this.openFailed(path, errnoCode(err), reason, fromEnd);
      return;
    }
    file.copyOf = copyOf;
    // Files present at start-up: only the newest is "live"; anything appearing later is.
    file.live = reason === 'discovered';
    this.register(file);
  }

  /**
   * A matched path that stat could not look at: true when it was taken care of
   * (retried, or listed as unread), false when it is simply not there.
   */
  private cannotLook(path: string, reason: AddReason, fromEnd: boolean): boolean {
    const status = inputStatus(path);
    if (status.kind === 'error') {
      this.openFailed(path, status.code, reason, fromEnd);
      return true;
    }
    // Node decodes file names as UTF-8: a name that is not comes back with U+FFFD and names no file.
    if (status.kind === 'missing' && path.includes('\uFFFD')) {
      this.giveUp(path, 'name is not valid UTF-8');
      return true;
    }
    return false;
  }

  /**
   * Opening an input failed. A transient reason (descriptors, permissions) is
   * retried with backoff and logged once; with `once`, anything else, or
   * attempts used up, lists the input as unread (the run then exits non-zero).
   * In follow mode every input is waited on: it may become readable.
   */
  private openFailed(path: string, code: string, reason: AddReason, fromEnd: boolean): void {
    // Gone between the glob (or stat) and the open: discovery announces it again if it comes back.
    if (code === 'ENOENT') {
      this.pathGone(path);
      return;
    }
    if (this.options.once && !isTransientOpenError(code)) {
      this.giveUp(path, code);
      return;
    }
    const { first, gaveUp } = this.retries.failed(path, code, { reason, fromEnd }, performance.now());
    if (gaveUp) this.events.warn(`cannot open ${path}: ${code}; gave up after ${ONCE_OPEN_ATTEMPTS} attempts, not read`, 'ORDERTAIL_INPUT_UNREADABLE');
    else if (first) this.events.warn(`cannot open ${path}: ${code}; retrying with backoff`, 'ORDERTAIL_INPUT_UNREADABLE');
    this.armRetry();
    if (gaveUp) this.schedule();
  }

  /** An input that cannot be read at all (a directory that cannot be listed): listed as unread. */
  markUnread(path: string, why: string): void {
    this.giveUp(path, why);
  }

  private giveUp(path: string, why: string): void {
    if (this.retries.unread.some((u) => u.path === path)) return;
    this.retries.giveUp(path, why);
    this.events.warn(`cannot read ${path}: ${why}; not read`, 'ORDERTAIL_INPUT_UNREADABLE');
  }

  private armRetry(): void {
    const dueAt = this.retries.nextDueAt;
    if (this.retryTimer || dueAt === undefined || this.stopping) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const [path, { reason, fromEnd }] of this.retries.due(performance.now())) this.addFile(path, reason, fromEnd);
      this.armRetry();
      this.schedule();
    }, Math.max(0, dueAt - performance.now()));
  }

  /** A `.json` array read to its end without its closing `]` (cut off, or still being written). */
  private unterminated(file: FileCursor, end: number): void {
    this.counters.values[Counter.rejected]!++;
    this.counters.rejectsByCode[TRUNCATED_DOCUMENT_SLOT]!++;
    this.events.warn(`${file.path}: JSON array ends at byte ${end} without its closing ']' (truncated?); the elements before were emitted`, 'ORDERTAIL_INPUT_TRUNCATED');
    this.events.reject({ file: file.path, offset: end, reason: TRUNCATED_DOCUMENT_REASON, sample: '' });
  }

  /** Inputs that could not be read (with `once`: given up after retries, or unreadable by nature). */
  get unread(): Unread[] {
    return this.retries.unread;
  }

  /**
   * Checkpointed files no input path matched at start-up: most likely rotated
   * while ordertail was stopped (app.log → app.log.1 outside the glob). Look for
   * the same identity in the directory it was last seen in and read it to its
   * end; a file that cannot be found is reported, never silently dropped.
   */
  recoverMoved(): void {
    for (const entry of this.set.unmatched()) {
      if (entry.copyOf) {
        this.set.forgetCheckpointed(entry.identity);
        continue;
      }
      const found = findByIdentity(dirname(entry.path), entry.identity);
      if (!found) {
        this.set.forgetCheckpointed(entry.identity);
        this.events.warn(`${entry.path} (checkpointed at offset ${entry.offset}) is gone: deleted or moved out of ${dirname(entry.path)} while ordertail was stopped; anything written to it after the checkpoint is not read`, 'ORDERTAIL_CHECKPOINT_FILE_GONE');
        continue;
      }
      let fd: number;
      try {
        fd = openSync(found, 'r');
      } catch {
        continue;
      }
      if (identityOfFd(fd).key !== entry.identity || !fingerprintMatches(fd, entry.fingerprint)) {
        closeSync(fd);
        continue;
      }
      this.set.forgetCheckpointed(entry.identity);
      const file = new FileCursor(this.nextFileId++, found, this.options.rangeBytes, { kind: 'resume', point: entry }, performance.now(), this.fds, fd);
      this.events.warn(`${entry.path} was renamed to ${found} while ordertail was stopped: reading the rest of it (from offset ${entry.offset}), then letting it go`, 'ORDERTAIL_CHECKPOINT_FILE_MOVED');
      file.detached = true;
      this.register(file);
    }
  }

  /** A small new file waits to be classified: its content changes are worth a look. */
  isSettling(path: string): boolean {
    return this.settling.has(path);
  }

  /** Files registered so far (renames of a known file are not new files). */
  get fileCount(): number {
    return this.nextFileId - 1;
  }

  /** A checkpoint (still unmatched) knows this file identity. */
  isCheckpointed(identity: string): boolean {
    return this.set.isKnown(identity);
  }

  /** Follow a file from `offset` (a file skipped by ignoreOlder that changed). */
  addFileAt(path: string, offset: number): void {
    if (this.stopping || this.set.atPath(path)) return;
    this.reopenAt(path, { kind: 'resume', point: { offset, skipPartial: true, carryPhase: 0 } });
  }

  /** Mark the newest start-up file as the live one. */
  markLive(path: string): void {
    const file = this.set.atPath(path);
    if (!file) return;
    file.live = true;
    this.set.prioritise();
  }

  private register(file: FileCursor): void {
    if (this.debug) {
      const log = fileLogger(this.logger, `f${file.id}`, file.path);
      this.fileLogs.set(file, log);
      log.debug({ size: file.observedSize, live: file.live, start: file.committed.offset, copyOf: file.copyOf?.path }, 'file opened');
    }
    this.set.add(file);
    this.ready.set(file, new Map());
    if (!this.options.once) {
      this.watches.set(file, new GrowthWatch(file.path, () => this.onGrowth(file), this.polls));
    }
    if (!file.isOpen) return;
    // Descriptors are opened on demand: close this one again if others need the room.
    if (file.idle && this.fds.openCount > this.fds.max) file.closeFd();
    this.schedule();
  }

  /** A small discovered file: settled once it has been seen for SETTLE_MS (then classified as it is). */
  private settled(path: string): boolean {
    const now = performance.now();
    const first = this.settling.get(path);
    if (first === undefined) {
      this.settling.set(path, now);
      setTimeout(() => {
        if (this.settling.has(path)) this.addFile(path, 'discovered');
      }, SETTLE_MS + 10).unref();
      return false;
    }
    return now - first >= SETTLE_MS;
  }

  /** A matched path disappeared (renamed or deleted): its file is detached until seen elsewhere. */
  private pathGone(path: string): void {
    this.settling.delete(path);
    this.set.pathGone(path, performance.now());
  }

  private onGrowth(file: FileCursor): void {
    if (this.stopping || !this.set.has(file)) return;
    let change: 'grew' | 'same' | 'shrank';
    try {
      change = file.refreshSize(performance.now());
    } catch (err) {
      if (err instanceof IdentityLostError) this.lost(file, err.message);
      return;
    }
    if (change === 'shrank') {
      this.markTruncated(file, `size now ${file.currentSize()} < ${file.observedSize} bytes seen`);
      this.finishTruncation(file);
      return;
    }
    if (change === 'grew' && !file.truncated) file.refreshFingerprint();
    if (change === 'grew' && !file.live) {
      file.live = true;
      this.set.prioritise();
    }
    if (change === 'grew') this.schedule();
  }

  /** Plan and dispatch as many ranges as buffers allow, live files first. */
  schedule(): void {
    if (this.stopping || this.failed) return;
    let lost: [FileCursor, string][] | undefined;
    for (const file of this.set.files) {
      // Reopen a file whose descriptor was closed only when a range can go out now:
      // reopening ahead of buffers would evict other files on every pass.
      if (!file.isOpen && !file.idle && this.buffers.available > (file.live ? 0 : 1)) {
        try {
          void file.fd;
        } catch (err) {
          // Out of descriptors for a moment: the file is not lost, plan it again shortly.
          if (!(err instanceof IdentityLostError) && isTransientOpenError(errnoCode(err))) {
            this.rescheduleTimer ??= setTimeout(() => {
              this.rescheduleTimer = undefined;
              this.schedule();
            }, REOPEN_RETRY_MS);
            continue;
          }
          (lost ??= []).push([file, err instanceof Error ? err.message : String(err)]);
          continue;
        }
      }
      for (;;) {
        // History may not take the last buffer: it is kept for live growth.
        const reserve = file.live ? 0 : 1;
        if (this.buffers.available <= reserve) break;
        const plan = file.nextChainRange(this.options.once) ?? file.nextHistoryRange();
        if (!plan) break;
        this.dispatch(file, plan);
      }
    }
    // Removed after the pass: retiring a file changes the list being walked.
    if (lost) for (const [file, why] of lost) this.lost(file, why);
    this.checkIdle();
  }

  private dispatch(file: FileCursor, plan: PlannedRange): void {
    const buffer = this.buffers.acquire()!;
    let bytes = this.bytesViews.get(buffer);
    if (!bytes) this.bytesViews.set(buffer, (bytes = Buffer.from(buffer)));
    const range: InFlightRange = {
      id: this.nextRangeId++,
      file,
      plan,
      buffer,
      bytes,
      results: this.stores.acquire(),
      observedAt: plan.chain ? file.observedAt : performance.now(),
      arrivalEpochMs: Date.now(),
      // Growth observed after start-up is the live stream; the rest is history.
      live: plan.chain && file.observedAt > this.startedAt,
    };
    this.inFlight++;
    if (this.debug) {
      range.log = rangeLogger(this.fileLogs.get(file)!, `r${range.id}`, plan.start, plan.end);
      range.log.debug({ seq: plan.seq, chain: plan.chain, hardEnd: plan.hardEnd }, 'range planned');
    }
    this.pool
      .run(
        {
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
        },
        range.results,
      )
      .then(
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
      this.markTruncated(range.file, `shorter than ${range.plan.hardEnd} bytes while being read`);
    }
    range.file.complete(range.plan, outcome.consumedEnd, outcome.carryPhase, outcome.skipUntilNewline);
    this.ready.get(range.file)!.set(range.plan.seq, range);
    void this.emitReady();
    this.schedule();
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
    this.buffers.release(buffer);
    if (this.scheduleQueued) return;
    this.scheduleQueued = true;
    queueMicrotask(() => {
      this.scheduleQueued = false;
      this.schedule();
    });
  }

  /** The sink (or a stage before it) threw: the engine fails with one clear error; nothing more is emitted. */
  private onEmitFailed(err: unknown): void {
    this.failed = true;
    this.emitAgain = false;
    this.events.fail(
      new EngineError('ORDERTAIL_SINK', `writing to ${this.staging.sinkName} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
    );
  }

  /** Emit every range whose predecessors are out, live files first; one pass at a time. */
  emitReady(): Promise<void> {
    if (this.emitting) {
      this.emitAgain = true;
      return this.emitting;
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
    do {
      this.emitAgain = false;
      this.refreshLowWatermark();
      const truncated: FileCursor[] = [];
      for (const file of this.set.files) {
        const waiting = this.ready.get(file)!;
        for (let range = waiting.get(file.emitSeq); range; range = waiting.get(file.emitSeq)) {
          waiting.delete(file.emitSeq);
          file.emitSeq++;
          const t0 = performance.now();
          const done = this.emitter.emit(
            {
              path: file.path,
              progress: file,
              bytes: range.bytes,
              bufferFilePos: range.outcome!.bufferFilePos,
              results: range.results,
              observedAt: range.observedAt,
              arrivalEpochMs: range.arrivalEpochMs,
              live: range.live,
            },
            performance.now(),
          );
          if (done !== true) await done;
          this.stages.dedup.recordValue(microsSince(t0));
          range.log?.debug({ records: range.results.count }, 'range emitted');
          const o = range.outcome!;
          file.markEmitted(range.plan, o.consumedEnd, o.carryPhase, o.skipUntilNewline);
          if (range.plan.framing === Framing.Array && o.consumedEnd >= range.plan.hardEnd && o.carryPhase !== ArrayPhase.Done) this.unterminated(file, o.consumedEnd);
          // The staging buffer may still write runs of records straight from these bytes.
          const buffer = range.buffer;
          this.staging.releaseAfterFlush(() => this.releaseBuffer(buffer));
          this.stores.release(range.results);
        }
        if (file.truncated) truncated.push(file);
      }
      for (const file of truncated) this.finishTruncation(file);
      const flushed = this.staging.flushToSink();
      if (flushed !== true) await flushed;
      if (this.checkpointDue) await this.runCheckpoint();
      this.schedule();
      if (!this.emitAgain && !this.checkpointDue) {
        // Idle only once the sink has written everything.
        const drained = this.staging.drained();
        if (drained !== true) await drained;
      }
    } while (this.emitAgain || this.checkpointDue);
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
    this.events.warn(`${file.path} truncated (${how}); reading it again from offset 0 once the ranges in flight are out`, 'ORDERTAIL_INPUT_TRUNCATED');
  }

  /** Emitted ranges are out of a truncated file: re-read it from 0, and let copies of it take over. */
  private finishTruncation(file: FileCursor): void {
    if (!file.truncated || file.outstanding > 0 || this.ready.get(file)!.size > 0) return;
    const position = file.committed.offset;
    this.set.rememberTruncation(file, position);
    for (const copy of this.set.copiesOf(file)) {
      // The copy holds the content up to the truncation: read it past where the original stood.
      this.remove(copy);
      // (Its size seen so far may be stale: it can still have been growing while being copied; the cursor clamps to the real size.)
      this.reopenAt(copy.path, { kind: 'resume', point: { offset: position, skipPartial: false, carryPhase: 0 } });
    }
    this.remove(file);
    this.reopenAt(file.path, { kind: 'start' });
  }

  private reopenAt(path: string, start: StartAt): void {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      // Not silently lost: retried like any input (as a new file at that path).
      this.openFailed(path, errnoCode(err), 'discovered', false);
      return;
    }
    let file: FileCursor;
    try {
      file = new FileCursor(this.nextFileId++, path, this.options.rangeBytes, start, performance.now(), this.fds, fd);
    } catch (err) {
      closeSync(fd);
      this.openFailed(path, errnoCode(err), 'discovered', false);
      return;
    }
    file.live = true;
    this.register(file);
  }

  /** Forget a cursor (its descriptor, watch and registrations). */
  private remove(file: FileCursor): void {
    this.watches.get(file)?.close();
    this.watches.delete(file);
    this.set.remove(file);
    this.ready.delete(file);
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
    this.remove(file);
    this.set.retire(file);
  }

  /**
   * Periodic: let go of drained files that were rotated away or deleted, and
   * close descriptors of idle files beyond the budget.
   */
  private sweep(): void {
    if (this.stopping) return;
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
      this.retire(file);
    }
  }

  /** The initial files are all added: from now on, idle is meaningful. */
  startupComplete(): void {
    this.accepting = true;
    this.schedule();
  }

  private checkIdle(): void {
    if (!this.accepting || this.inFlight > 0 || this.emitLoopRunning || this.retries.pendingCount > 0) return;
    if (this.set.files.some((f) => !f.idle)) return;
    // Idle: descriptors beyond the budget can go now.
    if (this.fds.openCount > this.fds.max) for (const f of this.set.files) if (f.isOpen && f.idle) f.closeFd();
    this.events.idle();
  }

  /** Stop planning, let in-flight ranges finish, emit them. */
  async drain(): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    clearTimeout(this.retryTimer);
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
      return { path: f.path, live: f.live, sizeBytes, readBytes: f.emittedBytes, lagBytes: f.copyOf ? 0 : Math.max(0, sizeBytes - f.emittedBytes) };
    });
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
