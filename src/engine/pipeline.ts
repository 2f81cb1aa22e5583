import type { ResolvedOptions } from '../config/options.js';
import { EngineError } from '../config/errors.js';
import type { EmitStage } from '../dedup/emit-stage.js';
import { Counter, type Counters } from '../metrics/counters.js';
import { BufferPool } from '../pool/buffer-pool.js';
import type { ParsePool } from '../pool/parse-pool.js';
import { ResultStorePool, type RangeResults } from '../pool/range-results.js';
import type { RangeOutcome } from '../pool/range-task.js';
import type { StagingBuffer } from '../sinks/staging.js';
import { FileCursor, type PlannedRange } from '../sources/file-cursor.js';
import { GrowthWatch } from '../sources/growth-watch.js';
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
  warn(message: string): void;
  fail(error: Error): void;
  idle(): void;
}

/**
 * The main thread's loop: files → planned ranges → pool → completed ranges →
 * emission in order. Ranges of the live file are planned and emitted before
 * history. Memory is bounded by the buffer pool: a range holds its buffer from
 * planning until it is emitted.
 */
export class Pipeline {
  private readonly files: FileCursor[] = [];
  private readonly byPath = new Map<string, FileCursor>();
  private readonly watches = new Map<FileCursor, GrowthWatch>();
  private readonly ready = new Map<FileCursor, Map<number, InFlightRange>>();
  private readonly buffers: BufferPool;
  private readonly stores = new ResultStorePool();
  private readonly bytesViews = new WeakMap<SharedArrayBuffer, Buffer>();
  private nextRangeId = 1;
  private nextFileId = 1;
  private inFlight = 0;
  private stopping = false;
  private emitting: Promise<void> | undefined;
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
  }

  /** Start reading a file (from its start, or its end for files present at start-up with --from end). */
  addFile(path: string, fromEnd: boolean, live: boolean): void {
    if (this.byPath.has(path) || this.stopping) return;
    let file: FileCursor;
    try {
      file = new FileCursor(this.nextFileId++, path, this.options.rangeBytes, fromEnd, performance.now());
    } catch (err) {
      this.events.warn(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; skipped`);
      return;
    }
    file.live = live;
    if (this.debug) {
      const log = fileLogger(this.logger, `f${file.id}`, path);
      this.fileLogs.set(file, log);
      log.debug({ size: file.observedSize, live, fromEnd }, 'file opened');
    }
    this.files.push(file);
    this.byPath.set(path, file);
    this.ready.set(file, new Map());
    if (live) this.prioritise();
    if (!this.options.once) {
      this.watches.set(file, new GrowthWatch(path, () => this.onGrowth(file), (m) => this.events.warn(m)));
    }
    this.schedule();
  }

  /** Live files first, then the rest in discovery order. */
  private prioritise(): void {
    this.files.sort((a, b) => Number(b.live) - Number(a.live) || a.id - b.id);
  }

  private onGrowth(file: FileCursor): void {
    if (this.stopping) return;
    let change: 'grew' | 'same' | 'shrank';
    try {
      change = file.refreshSize(performance.now());
    } catch {
      return;
    }
    if (change === 'shrank') {
      this.events.warn(`${file.path} shrank below what was read; truncation handling is not enabled, new bytes past the old size will be read`);
    }
    if (change === 'grew' && !file.live) {
      file.live = true;
      this.prioritise();
    }
    if (change === 'grew') this.schedule();
  }

  /** Plan and dispatch as many ranges as buffers allow, live files first. */
  schedule(): void {
    if (this.stopping || this.failed) return;
    for (const file of this.files) {
      for (;;) {
        // History may not take the last buffer: it is kept for live growth.
        const reserve = file.live ? 0 : 1;
        if (this.buffers.available <= reserve) break;
        const plan = file.nextChainRange(this.options.once) ?? file.nextHistoryRange();
        if (!plan) break;
        this.dispatch(file, plan);
      }
    }
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
        );
      }
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

  /** Emit every range whose predecessors are out, live files first; one pass at a time. */
  emitReady(): Promise<void> {
    if (this.emitting) {
      this.emitAgain = true;
      return this.emitting;
    }
    this.emitting = this.emitLoop().finally(() => {
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
      for (const file of this.files) {
        const waiting = this.ready.get(file)!;
        for (let range = waiting.get(file.emitSeq); range; range = waiting.get(file.emitSeq)) {
          waiting.delete(file.emitSeq);
          file.emitSeq++;
          const t0 = performance.now();
          const done = this.emitter.emit(
            {
              path: file.path,
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
          file.emittedBytes += range.plan.chain ? range.outcome!.consumedEnd - range.plan.start : range.plan.end - range.plan.start;
          this.buffers.release(range.buffer);
          this.stores.release(range.results);
        }
      }
      const flushed = this.staging.flushToSink();
      if (flushed !== true) await flushed;
      this.schedule();
    } while (this.emitAgain);
  }

  /** The initial files are all added: from now on, idle is meaningful. */
  startupComplete(): void {
    this.accepting = true;
    this.schedule();
  }

  private checkIdle(): void {
    if (!this.accepting || this.inFlight > 0 || this.emitting) return;
    if (this.files.some((f) => !f.idle)) return;
    this.events.idle();
  }

  /** Stop planning, let in-flight ranges finish, emit them. */
  async drain(): Promise<void> {
    this.stopping = true;
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    while (this.inFlight > 0 || this.emitting) {
      if (this.emitting) await this.emitting;
      else await new Promise<void>((resolve) => (this.rangeSettled = resolve));
    }
    await this.emitReady();
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  /** Files followed and how far behind each is. */
  fileTelemetry(): FileTelemetry[] {
    return this.files.map((f) => {
      const sizeBytes = f.currentSize();
      return { path: f.path, live: f.live, sizeBytes, readBytes: f.emittedBytes, lagBytes: Math.max(0, sizeBytes - f.emittedBytes) };
    });
  }

  /** Ranges planned and not yet emitted. */
  get rangesInFlight(): number {
    let waiting = 0;
    for (const m of this.ready.values()) waiting += m.size;
    return this.inFlight + waiting;
  }
}
