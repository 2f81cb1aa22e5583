/*
 * The Engine: options in, every stage wired (sources, pool, dedup, sinks,
 * checkpoints, metrics), its lifecycle (start, stop, failure) and the library
 * surface (records(), stats(), events). Over 400 lines because the lifecycle
 * and the telemetry it reports touch every stage; what each stage needs at
 * start-up lives beside it: checkpoints (checkpointer.ts), outputs
 * (outputs.ts), the dedup table (dedup-setup.ts), ignoreOlder
 * (sources/ignore-older.ts).
 */
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { resolveOptions, type EngineOptions, type ResolvedOptions } from '../config/options.js';
import { EmitStage } from './emit-stage.js';
import { DedupTable } from '../dedup/table.js';
import { Counter, Counters } from '../metrics/counters.js';
import { LatencyRecorder, type LatencySummary } from '../metrics/latency.js';
import type { ParsePool } from '../pool/parse-pool.js';
import { parsePoolConfig } from '../pool/pool-config.js';
import type { DeadLetterFile } from '../sinks/dead-letter.js';
import { FileSink } from '../sinks/file-sink.js';
import { abortError, DEFAULT_QUEUE_BOUNDS, ITERATOR_BATCH_BYTES, IteratorSink } from '../sinks/iterator-sink.js';
import { ConfigError, EngineError } from '../config/errors.js';
import { OrdertailError } from '../errors.js';
import type { Sink } from '../sinks/sink.js';
import { StagingBuffer } from '../sinks/staging.js';
import { StreamSink } from '../sinks/stdout-sink.js';
import { FileDiscovery, newestByMtime } from '../sources/discovery.js';
import { IgnoreOlder } from '../sources/ignore-older.js';
import { Pipeline, rangeBuffers, sinkWriteFailed } from './pipeline.js';
import type { BufferPool } from '../pool/buffer-pool.js';
import { Checkpointer, type CheckpointSubject } from './checkpointer.js';
import { LiveLane } from './live-lane.js';
import { FOLLOW_QUEUE_BYTES, openConfigured, ONCE_BATCH_BYTES, openOutputs, openReplacementSink } from './outputs.js';
import { SwitchableSink } from '../sinks/switchable-sink.js';
import { forgettingWarning, openDedupTable } from './dedup-setup.js';
import { resolveParser, type ParserName } from '../parser/select.js';
import type { RejectReason } from '../parser/contract.js';
import type { WarningCode } from './warnings.js';
import { StageHistograms } from '../metrics/stages.js';
import { buildWhenUsed, prepareLatencyHistograms } from '../metrics/histograms.js';
import { dedupSummary, type EngineStats, type FeatureFlags, type FileTelemetry, type LatencyHistograms, type PipelineGauges, type Readiness, type ReadingCounts, type StreamCounts, type TelemetrySource } from '../metrics/telemetry.js';
import { createLogger, type Logger } from '../metrics/logger.js';
import { rejectsLogger } from '../metrics/rejects-log.js';
import { describeDoubt, type RecordDoubt } from './record-doubts.js';
import { OutputRotation, type RotationHost } from './output-rotation.js';
import type { MetricsServer } from '../metrics/http-server.js';
import { StreamCounters } from '../metrics/counters.js';
import type { Registry } from 'prom-client';
import { createRegistry } from '../metrics/registry.js';
import type { CollectorConfig } from '../collector/config.js';
import { resolveDedupImpl } from '../dedup/native-dedup.js';
import { checkOnceInputs } from '../sources/input-check.js';

import type { CheckpointedFile } from '../checkpoint/manifest.js';
import { isTransactional, type TransactionalSink } from '../sinks/transactional.js';
import { planReload, switchesAtReload } from '../config/reload.js';
import { applyReload, type ReloadResult } from './reload-apply.js';
import { ReloadCounts } from '../metrics/reloads.js';
import { boundSinkStop } from './sink-stop.js';
import { BatchScheduler } from '../modes/batch-scheduler.js';
import { PathComparison, type ComparisonSnapshot } from '../modes/comparison.js';
import { EmitLock } from '../modes/emit-lock.js';
import { MissedLog } from '../modes/missed-log.js';
import { BatchPath } from './batch-path.js';
import type { Histogram } from 'hdr-histogram-js';

export type { EngineStats } from '../metrics/telemetry.js';
export type { ReloadResult } from './reload-apply.js';
export type { ReloadableKey } from '../config/reload.js';

export interface RejectedRecord {
  file: string;
  offset: number;
  reason: RejectReason;
  sample: string;
}

export interface EngineEventMap {
  /** Start-up facts worth a log line (the parser chosen). */
  info: [message: string];
  /** Something worth attention that the engine worked around; `code` is stable (README). */
  warning: [message: string, code: WarningCode];
  error: [error: Error];
  rejected: [record: RejectedRecord];
  /** With `once`: everything that existed at start has been emitted (with records(): and taken by the loop). */
  finished: [];
}

/** How often a follower looks whether its sink or dead-letter file was rotated (two stat calls each). */
const OUTPUT_FILES_CHECK_MS = 1000;

/**
 * The embeddable engine: `new Engine(options)`, `await start()`, read records
 * from `records()` (or a configured sink), `stats()`, `await stop()`.
 */
export class Engine extends EventEmitter<EngineEventMap> implements TelemetrySource {
  /** The options in force: those given to the constructor, or to the last applied reload(). */
  get options(): ResolvedOptions {
    return this.current;
  }
  private current: ResolvedOptions;
  readonly startedAt = Date.now();
  private readonly reloads = new ReloadCounts(this.startedAt);
  /** The logger the engine made itself (not a caller's): a reload sets its level. */
  private readonly ownLogger: Logger | undefined;
  private ignoreOlder: IgnoreOlder | undefined;
  /** Reads a file an input matches (once following): outputs of this engine and ignoreOlder considered. */
  private addFound: ((path: string) => boolean) | undefined;
  private readonly stages = new StageHistograms();
  private readonly logger: Logger;
  private metricsServer: MetricsServer | undefined;
  private readonly streams = new StreamCounters();
  /** One prom-client registry for the engine, the collector and the metrics server (made on first use: prom-client loads then). */
  get registry(): Registry {
    return (this.promRegistry ??= createRegistry());
  }
  private promRegistry: Registry | undefined;
  private collector: import('../collector/collector.js').Collector | undefined;
  /** The WebSocket broadcaster (wsPort): loaded only when configured. */
  private broadcast: import('../broadcast/start.js').Broadcast | undefined;
  private collectorLog: FileSink | undefined;
  private staging: StagingBuffer | undefined;
  private failure: Error | undefined;
  private readonly counters = new Counters();
  private readonly latency = { live: new LatencyRecorder(), history: new LatencyRecorder() };
  private iterator: IteratorSink | undefined;
  /** Removes the checks for an engine never started (sayIfNeverStarted; at start() and stop()). */
  private forgetNeverStarted: (() => void) | undefined;
  /** finished() was called before start(): its check is in place. */
  private finishedWatched = false;
  private sink: Sink | undefined;
  private deadLetter: DeadLetterFile | undefined;
  private pool: ParsePool | undefined;
  private dedup: DedupTable | undefined;
  private pipeline: Pipeline | undefined;
  private discovery: FileDiscovery | undefined;
  /** Follow mode: growth parsed on this thread; a reload turns it off and on (liveLane). */
  private liveLane: LiveLane | undefined;
  /** Legacy mode's batch clock. */
  private batches: BatchScheduler | undefined;
  /** Hybrid mode: the batch path (closed files read whole, not checkpointed). */
  private batchPath: BatchPath | undefined;
  /** Makes a batch path for the live pipeline (follow mode, not legacy): at start-up in hybrid mode, or at a switch to it. */
  private makeBatchPath: (() => BatchPath) | undefined;
  private announceBatch: ((paths: string[]) => void) | undefined;
  /** Mode switches (reload) run in turn: a batch path stopping is drained before a new one starts. */
  private modeSwitches: Promise<void> = Promise.resolve();
  /** What the paths are compared by: made at the first hybrid period, kept for the engine's life. */
  private comparison: PathComparison | undefined;
  private pumping: Promise<void> | undefined;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private finishedPromise: Promise<void>;
  private resolveFinished!: () => void;
  private rejectFinished!: (err: Error) => void;
  private finishedEmitted = false;
  /** Settles when start() has returned or thrown. */
  private startSettled: Promise<void> | undefined;
  /** start() has returned: a failure from now on stops the engine at once. */
  private started = false;
  private stopping: Promise<void> | undefined;
  /** Latency summaries taken at stop, when the histograms are freed. */
  private finalLatency: { live: LatencySummary; history: LatencySummary } | undefined;
  private readonly onAbort = (): void => {
    this.iterator?.fail(abortError(this.options.signal!));
    void this.stop();
  };
  private parserName: ParserName = 'js';
  private dedupImpl: 'js' | 'native' = 'js';
  /** Forgetting inside the window was warned about (once per engine). */
  private forgettingWarned = false;
  private checkpointer: Checkpointer | undefined;
  /** The sink when it is a file (its committed length goes into checkpoints). */
  private fileSink: FileSink | undefined;
  /** A follower's file or stdout sink, which a reload may replace (switchSink). */
  private sinkSwitch: SwitchableSink | undefined;
  /** The sink a reload opened, put in place at a checkpoint boundary (switchDue, switchSink). */
  private pendingSink: ReturnType<typeof openReplacementSink> | undefined;
  /** Follows a rotation of the file sink and the dead-letter file while following (output-rotation.ts). */
  private outputRotation: OutputRotation | undefined;
  private outputFilesTimer: NodeJS.Timeout | undefined;
  /** The flush and close of the sink a switch left, until done: checkpoints wait for it. */
  private outputsLeft: Promise<void> | undefined;
  /** Recorded in checkpoints when the sink is not a file. */
  private sinkKind: CheckpointSubject['sinkKind'] = 'none';
  /** Files this engine writes: an input glob that matches them does not read them. */
  private readonly outputPaths = new Set<string>();
  /** A sink that commits records with the offsets (PostgreSQL): its offsets are where reading resumes. */
  private txSink: TransactionalSink | undefined;
  /** `nats://` inputs: durable consumers spooled into the checkpoint directory. */
  private natsInputs: import('../sources/nats-input.js').NatsInput[] = [];
  /** The checkpointer asked for a commit (a transactional sink asks for its own more often). */
  private localCheckpointDue = false;
  /** Parse threads set by a reload, for a pool started after it. */
  private workersNow: number | undefined;

  constructor(options: EngineOptions) {
    super();
    this.current = resolveOptions(options);
    // Library mode logs only when asked to: a logger, or a logLevel (pino JSON on stderr).
    this.ownLogger = options.logger ? undefined : createLogger({ level: options.logLevel === undefined ? 'silent' : this.current.logLevel });
    this.logger = options.logger ?? this.ownLogger!;
    // A logger of our own: nobody else turns the engine's events into log lines (the CLI does, with its own).
    // (Also when silent for now: a reload may set a logLevel.)
    if (this.ownLogger) this.logEvents(this.ownLogger);
    this.finishedPromise = new Promise((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    // Rejected only on failure, which also reaches 'error' listeners and records(): never unhandled.
    this.finishedPromise.catch(() => {});
  }

  /**
   * Accepted records, one Buffer each (original bytes, no newline), for one
   * `for await` loop. Call once, before start(); it replaces the configured sink.
   *
   * At-least-once: a record counts as taken when the loop asks for the next
   * one, and a checkpoint covers only taken records, so after `break`, a
   * throw, stop(), an abort or a crash, a restart from the checkpoint delivers
   * again whatever was not taken. The loop ends when a `once` engine has
   * delivered everything, at stop(), or (throwing) on the engine's failure or
   * an abort; leaving the loop in any way stops the engine. Reading pauses
   * while `maxRecords` records or `maxBytes` bytes wait for the consumer.
   */
  records(options: RecordsOptions = {}): AsyncIterableIterator<Buffer> {
    if (this.state !== 'new') throw new EngineError('ORDERTAIL_RECORDS_AFTER_START', 'records() must be called before start()');
    if (this.iterator) throw new EngineError('ORDERTAIL_RECORDS_REUSED', 'records() was already called: an engine feeds one records() loop');
    const bounds = {
      maxRecords: positiveInteger(options.maxRecords, 'maxRecords') ?? DEFAULT_QUEUE_BOUNDS.maxRecords,
      maxBytes: positiveInteger(options.maxBytes, 'maxBytes') ?? DEFAULT_QUEUE_BOUNDS.maxBytes,
    };
    // The loop is over (done, break, throw, abort): nobody reads any more, so the engine stops.
    const iterator = new IteratorSink(bounds, () => void this.stop());
    this.iterator = iterator;
    this.sayIfNeverStarted(() => {
      if (iterator.waiting) iterator.fail(new EngineError('ORDERTAIL_NOT_STARTED', 'records(): the loop is waiting for records of an engine that was never started; call start() (after records(), before or while looping)'));
    });
    return iterator.iterator(options.signal);
  }

  /**
   * `for await (… of engine.records())` or `await engine.finished()` with no
   * start(): they wait for what never comes, and a process with nothing else
   * to do leaves without a word (exit 13, "unsettled top-level await"). When
   * it is about to, and the engine was still not started, `say` makes them
   * throw instead. Forgotten at start() and stop().
   */
  private sayIfNeverStarted(say: () => void): void {
    const check = (): void => {
      if (this.state === 'new') say();
    };
    process.once('beforeExit', check);
    const before = this.forgetNeverStarted;
    this.forgetNeverStarted = () => {
      before?.();
      process.removeListener('beforeExit', check);
    };
  }

  /**
   * Apply new options to the running engine (config hot reload). They are
   * validated as the constructor validates them, then compared with those in
   * force: a reload that changes a setting that cannot change at run time
   * (`sink`, `workers`, `dedupKey`, `checkpoint`, …) or is invalid throws a
   * ConfigError naming the key, and nothing of it applies. Reloadable:
   * `input` (added patterns' files are read as start-up files are; files no pattern
   * matches any more are followed no further once their planned ranges are
   * out, offsets kept), `dedupWindow` (for every decision from now on,
   * against the keys the table holds), `ignoreOlder` (for files that added
   * inputs find), `logLevel` (of the engine's own logger) and
   * `checkpointInterval`. Applying takes no record in flight away and
   * repeats none: it runs on the engine's thread between two emit passes.
   *
   * `next` may be a function producing the options: a ConfigError it throws
   * (a config file that cannot be read) is counted as a refused reload too.
   * Counts: stats().configReloads and `ordertail_config_reloads_total`.
   */
  reload(next: EngineOptions | (() => EngineOptions)): ReloadResult {
    if (this.state !== 'running' || !this.started) throw new EngineError('ORDERTAIL_STARTED', `reload() on a ${this.started ? this.state : 'starting'} engine: only a running one reloads`);
    const t0 = performance.now();
    let resolved: ResolvedOptions;
    let plan: ReturnType<typeof planReload>;
    let nextSink: ReturnType<typeof openReplacementSink> | undefined;
    try {
      // The abort signal belongs to the caller that made the engine, not to a config.
      resolved = { ...resolveOptions(typeof next === 'function' ? next() : next, 'reload'), signal: this.current.signal };
      plan = planReload(this.current, resolved);
      if (plan.changed.includes('sink')) nextSink = this.openNextSink(resolved);
    } catch (err) {
      this.reloads.rejected();
      throw err;
    }
    const done = applyReload(
      {
        dedup: this.dedup,
        checkpointer: this.checkpointer,
        discovery: this.discovery,
        pipeline: this.pipeline,
        ignoreOlder: this.ignoreOlder,
        ownLogger: this.ownLogger,
        addFound: (path) => this.addFound?.(path) ?? false,
        batchClock: () => this.batches ?? this.batchPath?.scheduler,
        pipelines: () => [this.pipeline, this.batchPath?.pipeline].filter((p): p is Pipeline => p !== undefined),
        liveLane: this.liveLane,
        resizeWorkers: (workers) => {
          this.workersNow = workers;
          this.pool?.resize(workers);
        },
      },
      plan,
      resolved,
    );
    this.current = resolved;
    if (plan.changed.includes('mode')) this.switchMode(resolved.mode);
    if (nextSink) {
      // A reload before the switch happened replaces the one it was to make.
      void this.pendingSink?.sink.close();
      this.pendingSink = nextSink;
      void this.pipeline?.requestCheckpoint();
    }
    this.reloads.applied();
    return { ...done, pauseMs: performance.now() - t0 };
  }

  /**
   * realtime ↔ hybrid at a reload (config/reload.ts refuses the others). The
   * live path goes on as it is; only the batch path is started or stopped,
   * after any switch before it is done. Starting it is immediate (the live
   * path takes the new lock within its current pass); stopping it drains
   * what it planned, then the live path leaves the lock.
   */
  private switchMode(to: ResolvedOptions['mode']): void {
    const next = async (): Promise<void> => {
      if (this.state !== 'running') return;
      if (to === 'hybrid') {
        if (this.batchPath || this.current.mode !== 'hybrid') return;
        const path = this.makeBatchPath!();
        this.batchPath = path;
        path.start(this.announceBatch!);
        this.emit('info', 'mode: hybrid: the batch path started beside the live path');
        return;
      }
      const path = this.batchPath;
      if (!path) return;
      this.batchPath = undefined;
      await path.stop();
      path.close();
      // A later switch back to hybrid is queued behind this one and sets new hooks itself.
      if (!this.batchPath) this.pipeline?.setHooks(undefined);
      this.emit('info', `mode: ${to}: the batch path stopped`);
    };
    this.modeSwitches = this.modeSwitches.then(next).catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
  }

  /**
   * With `once`: resolves when all input has been emitted (with records(): and
   * taken by its loop), or at stop(). Rejects with the engine's error when it fails.
   */
  finished(): Promise<void> {
    if (this.state === 'new' && !this.finishedWatched) {
      this.finishedWatched = true;
      this.sayIfNeverStarted(() => this.rejectFinished(new EngineError('ORDERTAIL_NOT_STARTED', 'finished(): waiting for an engine that was never started; call start() first')));
    }
    return this.finishedPromise;
  }

  /** Records waiting for the records() loop, their bytes, and the most that ever waited. */
  recordsQueue(): { records: number; bytes: number; peakRecords: number; peakBytes: number } | undefined {
    const it = this.iterator;
    return it && { records: it.waitingRecords, bytes: it.waitingBytes, peakRecords: it.peakRecords, peakBytes: it.peakBytes };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new EngineError('ORDERTAIL_STARTED', `start() called on a ${this.state} engine`);
    this.forgetNeverStarted?.();
    let settled!: () => void;
    this.startSettled = new Promise<void>((resolve) => (settled = resolve));
    try {
      await this.startOnce();
    } finally {
      settled();
    }
  }

  private async startOnce(): Promise<void> {
    const o = this.options;
    if (o.signal?.aborted) {
      this.state = 'stopped';
      this.releaseHistograms();
      throw abortError(o.signal);
    }
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
    // The collector's log is written by start() itself (one poll) before it is read.
    if (o.once) checkOnceInputs(o.collector ? o.input.filter((p) => resolve(p) !== resolve(o.collectorLog)) : o.input);
    // A checkpoint that cannot be used stops start-up before anything is touched.
    const checkpointer = o.checkpoint ? Checkpointer.open(o, o.checkpoint, (m, code) => this.emit('warning', m, code)) : undefined;
    this.checkpointer = checkpointer;
    let restored = checkpointer?.restored;
    let resumeFiles = restored?.files;
    this.state = 'running';
    try {
      // Bound before any output is opened: a port that cannot be had fails the run with nothing written.
      if (o.ws) {
        this.broadcast = await (await import('../broadcast/start.js')).startBroadcast(o.ws, this.registry);
        this.emit('info', `WebSocket endpoint: ${this.broadcast.broadcaster.url}`);
      }
      const outputs = openOutputs(o, restored, this.iterator, (m, code) => this.emit('warning', m, code), (m) => this.emit('info', m));
      ({ sink: this.sink, fileSink: this.fileSink, deadLetter: this.deadLetter } = outputs);
      if (this.fileSink?.directUnavailable) this.emit('info', `${this.fileSink.name}: sinkPageCache 'direct' not in effect (${this.fileSink.directUnavailable})`);
      this.sinkKind = this.iterator ? 'iterator' : o.sink.kind === 'file' || o.sink.kind === 'postgres' || o.sink.kind === 'nats' ? 'none' : o.sink.kind;
      if (!o.once && !this.iterator && switchesAtReload(o.sink.kind)) this.sink = this.sinkSwitch = new SwitchableSink(this.sink);
      if (!o.once && (this.deadLetter || (this.sinkSwitch && this.fileSink))) {
        const rotation = (this.outputRotation = new OutputRotation(this.rotationHost()));
        this.outputFilesTimer = setInterval(() => rotation.check(), OUTPUT_FILES_CHECK_MS).unref();
      }
      if (isTransactional(this.sink)) {
        this.txSink = this.sink;
        resumeFiles = await this.sink.open();
        if (restored && !sameResumePoints(restored.files, resumeFiles)) {
          checkpointer!.discardRestored(`${this.sink.name} committed other offsets; resuming from the database's offsets, the dedup table seeded from its recent keys`);
          restored = undefined;
        }
      } else if (this.sink.connect) {
        await this.sink.connect();
      }
      const spools = await this.openNatsInputs(checkpointer);
      this.discovery = new FileDiscovery([...o.input, ...spools], (m, about) => this.emit('warning', m, about === 'input' ? 'ORDERTAIL_INPUT_UNREADABLE' : 'ORDERTAIL_WATCH_UNAVAILABLE'));
      // The table is sized from what exists now; the scan that reads runs after
      // the collector's first poll (its log is an input too).
      this.dedup = openDedupTable(o, this.discovery.scan(), restored, checkpointer?.dedup, {
        info: (m) => this.emit('info', m),
        warn: (m, code) => this.emit('warning', m, code),
      });
      // No local checkpoint describes the database's moment: its recent keys stand in for it.
      if (this.txSink?.seedKeys && !restored && resumeFiles) {
        const dedup = this.dedup;
        const seeded = await this.txSink.seedKeys(o.dedupWindowMs, Math.floor(dedup.capacity / 2), (lo, hi, times, i) => void dedup.insertAt(lo, hi, times, i));
        if (seeded > 0) checkpointer?.dedup.insertedOutsideJournal();
        this.emit('info', `dedup table seeded with ${seeded} key(s) ${this.txSink.name} holds within the window`);
      }
    } catch (err) {
      this.state = 'stopped';
      checkpointer?.release();
      await this.broadcast?.close();
      if (this.txSink || this.sink?.connect) await this.sink?.close().catch(() => {});
      await Promise.all(this.natsInputs.map((n) => n.close().catch(() => {})));
      throw err;
    }
    if (checkpointer) this.emit('info', `checkpoints: ${checkpointer.dir} (every ${o.checkpointIntervalMs} ms and at stop)`);
    if (checkpointer && restored) {
      this.emit('info', `checkpoint ${checkpointer.store.manifestPath}: resuming ${restored.files.length} file(s) from generation ${restored.generation} (${new Date(restored.writtenAtMs).toISOString()})`);
    }
    try {
      await this.startReading(resumeFiles, this.sink!, this.dedup!);
    } catch (err) {
      // The pool, timers and watches are running by now: a failed start must
      // not leave them keeping the process alive. Nor commit a checkpoint of a half-started run.
      this.failure ??= err instanceof Error ? err : new Error(String(err));
      // Not stop(): it waits for start() to settle, which is this very call.
      this.stopping ??= this.stopOnce(false);
      await this.stopping.catch(() => {});
      throw err;
    }
  }

  private async startReading(resumeFiles: CheckpointedFile[] | undefined, sink: Sink, dedup: DedupTable): Promise<void> {
    const o = this.options;
    // A follower builds its histograms during start-up, not a second into the run; a replay only if it fills or reads them (metrics/histograms.ts).
    const histograms = o.once ? undefined : prepareLatencyHistograms();
    if (o.once) for (const h of [...this.stages.all(), this.latency.live.histogram, this.latency.history.histogram]) buildWhenUsed(h);
    const chosen = resolveParser(o.parser);
    this.parserName = chosen.name;
    if (chosen.fallbackReason) this.emit('warning', `native parser unavailable, using js: ${chosen.fallbackReason}`, 'ORDERTAIL_NATIVE_UNAVAILABLE');
    // Fail at start-up, not in every worker, when the shadow parser cannot load.
    if (o.parserShadow) resolveParser(o.parserShadow);
    if (o.canaryParser) resolveParser(o.canaryParser);
    const dedupImpl = resolveDedupImpl(o.dedupImpl);
    this.dedupImpl = dedupImpl.name;
    if (dedupImpl.fallbackReason && chosen.name === 'native') this.emit('warning', `native dedup unavailable, using js: ${dedupImpl.fallbackReason}`, 'ORDERTAIL_NATIVE_UNAVAILABLE');
    this.emit('info', `parser: ${chosen.name}${o.parserShadow ? ` (shadow: ${o.parserShadow}, sample ${o.shadowSample})` : ''}, dedup inserts: ${dedupImpl.name}`);
    const poolConfig = parsePoolConfig(o, chosen.name);
    // A small --once run starts no thread (pool/threads-for-work.ts); one is made if a range needs it.
    const parsesOnMainThread = poolConfig.workers === 0;
    const makePool = ({ ParsePool }: typeof import('../pool/parse-pool.js')): ParsePool => {
      const pool = new ParsePool({
        ...poolConfig,
        workers: Math.max(1, this.workersNow ?? poolConfig.workers),
        onWorkerError: (e) => this.fail(new Error(`parse worker failed: ${e.message}`, { cause: e })),
      });
      this.pool = pool;
      // A follower folds journals into snapshots off the main thread (the live lane
      // would feel a scan of the table); a --once run takes them on the main thread.
      if (!o.once) this.checkpointer?.dedup.compactWith((task) => pool.compactDedup(task));
      this.pumping = this.pump(pool);
      return pool;
    };
    // Loaded only when a thread is wanted: Piscina and its module are start-up time and memory.
    if (!parsesOnMainThread) makePool(await import('../pool/parse-pool.js'));
    let poolLater: Promise<ParsePool> | undefined;
    const startPool = (): ParsePool | Promise<ParsePool> => this.pool ?? (poolLater ??= import('../pool/parse-pool.js').then(makePool));
    // Small batches for records(): a batch that crosses the queue's bounds is taken whole.
    const staging = new StagingBuffer(this.broadcast ? this.broadcast.tee(sink) : sink, this.iterator ? ITERATOR_BATCH_BYTES : o.once ? ONCE_BATCH_BYTES : FOLLOW_QUEUE_BYTES, (us) => this.stages.sinkWrite.recordValue(us));
    this.staging = staging;
    const native = dedupImpl.native;
    if (native) this.checkpointer?.dedup.prefaultWith((bytes) => native.populateInBackground(bytes));
    const emit = new EmitStage(dedup, staging, this.counters, this.latency, this.deadLetter, (entry) =>
      this.emit('rejected', entry as RejectedRecord),
    this.streams, this.checkpointer?.dedup.journal, dedupImpl.native, (n) => this.onDedupForgetting(n), (doubt) =>
      this.onRecordDoubt(doubt));
    // Follow mode: small growth is parsed where it is noticed (engine/live-lane.ts).
    const liveLane = o.once && !parsesOnMainThread ? undefined : new LiveLane(o, chosen.name, this.stages.parse, parsesOnMainThread);
    this.liveLane = liveLane;
    this.pipeline = new Pipeline(o, startPool, emit, staging, this.counters, this.stages, this.logger, {
      warn: (m, code) => this.emit('warning', m, code),
      fail: (e) => this.fail(e),
      reject: (entry) => {
        this.deadLetter?.write(entry);
        this.emit('rejected', entry);
      },
      idle: () => {
        if (o.once) this.onceFinished();
      },
      // Also without checkpoints: a sink switch waits for this point.
      checkpoint: () => this.commitPoint(),
    }, liveLane);
    if (resumeFiles) this.pipeline.resumeFrom(resumeFiles);
    const pipelineForSink = this.pipeline;
    // Asked from inside a sink write too: the emit loop running then goes round again.
    if (this.txSink) this.txSink.onCommitWanted = () => void pipelineForSink.requestCheckpoint();
    if (o.collector) await this.startCollector(o.collector);
    // `once`: what the consumers have pending is spooled before the scan, like the collector's one poll.
    if (o.once) for (const input of this.natsInputs) await input.drain();
    // Our own outputs may match a broad input glob; reading them back would
    // loop forever in follow mode.
    for (const path of [o.sink.kind === 'file' ? o.sink.path : undefined, o.deadLetter]) if (path) this.outputPaths.add(resolve(path));
    const isOutput = (path: string): boolean => {
      if (!this.outputPaths.has(path)) return false;
      this.emit('warning', `${path} matches the input glob but is an output of this engine; not read`, 'ORDERTAIL_INPUT_IS_OUTPUT');
      return true;
    };
    const pipeline = this.pipeline;
    const ignoreOlder = new IgnoreOlder(o.ignoreOlderMs, (key) => pipeline.isCheckpointed(key), (m) => this.emit('info', m));
    this.ignoreOlder = ignoreOlder;
    // With `once`, a directory that could not be listed is input that was not read.
    if (o.once) for (const [base, code] of this.discovery!.unlisted) this.pipeline.markUnread(`${base}/`, `cannot list: ${code}`);
    const discovery = this.discovery!;
    const announce = (paths: string[]): void => {
      if (paths.length > 0) this.emit('info', `batch: ${paths.length} closed file(s) to read: ${paths.join(', ')}`);
    };
    this.announceBatch = announce;
    // Hybrid mode's batch path, at start-up or at a switch to hybrid (reload): two pipelines, one
    // dedup table and sink, so the batch path's records are normally all duplicates.
    let batchBuffers: BufferPool | undefined;
    this.makeBatchPath = () => {
      const now = this.current;
      // One comparison for the engine's life: its counts are Prometheus counters, which never go back.
      const comparison = (this.comparison ??= new PathComparison((r) => missed.missed(r)));
      const lock = new EmitLock();
      pipeline.setHooks({ role: 'live', lock, comparison });
      const batchPipeline = new Pipeline(now, startPool, emit, staging, this.counters, this.stages, this.logger, {
        warn: (m, code) => this.emit('warning', m, code),
        fail: (e) => this.fail(e),
        reject: (entry) => {
          this.deadLetter?.write(entry);
          this.emit('rejected', entry);
        },
        idle: () => {},
      }, undefined, { role: 'batch', lock, comparison }, (batchBuffers ??= rangeBuffers(now)));
      // The batch job's view of the same inputs (ignoreOlder is the live path's, not its). A file the
      // live path is still emitting waits for a later batch: the comparison is of what each path
      // saw, not of which got to a file first.
      const scheduler = new BatchScheduler(
        { list: () => discovery.current().filter((p) => !isOutput(p)), take: (path) => batchPipeline.addFile(path, 'startup'), ready: (path) => pipeline.hasUnemitted(path) !== true },
        now.batchEveryMs,
        now.batchDelayMs,
      );
      return new BatchPath(batchPipeline, scheduler);
    };
    const missed = new MissedLog((m) => this.emit('warning', m, 'ORDERTAIL_MODE_LIVE_MISSED'));
    // Before the live path reads anything: the comparison counts it from its first record.
    if (o.mode === 'hybrid') this.batchPath = this.makeBatchPath();
    if (o.mode === 'legacy') {
      // No tailing: closed files, each once, whole, on the batch clock (modes/batch-scheduler.ts).
      this.batches = new BatchScheduler({ list: () => discovery.current().filter((p) => !isOutput(p)), take: (path) => pipeline.addFile(path, 'startup') }, o.batchEveryMs, o.batchDelayMs);
      if (o.once) announce(this.batches.runBatch());
      else this.batches.start(announce);
    } else {
      const existing = this.discovery!.scan().filter((p) => !isOutput(p) && !ignoreOlder.skipAtStartup(p));
      const newest = newestByMtime(existing);
      for (const path of existing) this.pipeline.addFile(path, 'startup', o.from === 'end');
      if (newest) this.pipeline.markLive(newest);
    }
    this.pipeline.recoverMoved();
    if (!o.once && o.mode !== 'legacy') {
      this.discovery!.follow((path) => {
        if (isOutput(path)) return;
        if (ignoreOlder.has(path)) {
          const at = ignoreOlder.resumeAt(path);
          if (at !== undefined) pipeline.addFileAt(path, at);
          return;
        }
        pipeline.addFile(path, 'discovered');
      }, (path) => ignoreOlder.has(path) || pipeline.isSettling(path));
      // Files an input added by a reload matches: judged as at start-up (ignoreOlder), and read as start-up files are.
      this.addFound = (path) => {
        if (isOutput(path) || ignoreOlder.skipAtStartup(path)) return false;
        pipeline.addFound([path]);
        return true;
      };
    }
    this.batchPath?.start(announce);
    this.pipeline.startupComplete();
    if (!o.once) for (const input of this.natsInputs) input.start();
    this.checkpointer?.start(this.checkpointSubject(this.pipeline, sink, dedup));
    if (o.metricsPort !== undefined) {
      await this.sink?.registerMetrics?.(this.registry);
      if (this.natsInputs.length > 0) await (await import('../sources/nats-input.js')).registerNatsInputMetrics(this.registry, this.natsInputs);
      const { startMetricsServer } = await import('../metrics/http-server.js');
      this.metricsServer = await startMetricsServer({ source: this, registry: this.registry, host: o.metricsHost, port: o.metricsPort, allowedHosts: o.metricsAllowedHosts, logger: this.logger });
    }
    if (!o.once) {
      // A follower is ready once nothing of its start-up is left to compete with
      // the live lane for the CPU: parse threads booted, histograms built.
      await Promise.all([histograms, this.pool?.threadsLoaded]);
    }
    this.started = true;
    if (this.failure) this.stopAfterFailure();
  }

  /**
   * The collector appends its records to its own NDJSON log, which the engine
   * follows like any input: one data path (dedup, sinks, metrics) for both,
   * and the log is a replayable record of what the exchanges said.
   * With `once`, one poll of every exchange is written before the scan.
   */
  private async startCollector(config: CollectorConfig): Promise<void> {
    // ccxt is large: loaded only when a collector is configured.
    const { Collector } = await import('../collector/collector.js');
    // An input of this engine too: its pages stay cached for the reader.
    const path = this.options.collectorLog;
    const log = openConfigured('collectorLog', path, () => new FileSink(path, { pageCache: 'keep' }));
    this.collectorLog = log;
    const collector = new Collector(config, { write: (chunk) => log.write(chunk), registry: this.registry });
    this.collector = collector;
    collector.on('warning', (m) => this.emit('warning', `collector: ${m}`, 'ORDERTAIL_COLLECTOR'));
    collector.on('error', (e) => this.emit('warning', `collector: ${e.message}`, 'ORDERTAIL_COLLECTOR'));
    if (this.options.once) {
      await collector.pollOnce();
      await collector.stop();
    } else {
      await collector.start();
    }
  }

  /**
   * Connect the NATS inputs and open their spools (in the checkpoint
   * directory: a message is acked once a checkpoint covers its line);
   * resolves to the spool paths, which are read like any input.
   */
  private async openNatsInputs(checkpointer: Checkpointer | undefined): Promise<string[]> {
    const o = this.options;
    if (o.natsInputs.length === 0) return [];
    if (!checkpointer) {
      throw new ConfigError('input: a NATS input needs a checkpoint directory (--checkpoint): its messages are spooled there and acked once a checkpoint covers them', 'input');
    }
    const { NatsInput } = await import('../sources/nats-input.js');
    const events = { warn: (m: string) => this.emit('warning', m, 'ORDERTAIL_INPUT_UNREADABLE'), info: (m: string) => this.emit('info', m) };
    for (const c of o.natsInputs) {
      const input = new NatsInput(c, resolve(checkpointer.dir, `nats-input-${c.durable}.ndjson`), events);
      this.natsInputs.push(input);
      await input.open();
    }
    const inputs = this.natsInputs;
    checkpointer.onCommitted = (state) => {
      for (const input of inputs) {
        const file = state.files.find((f) => resolve(f.path) === input.spoolPath);
        if (file) input.covered(file.offset);
      }
    };
    return inputs.map((n) => n.spoolPath);
  }

  /** A record the configuration may not mean as it is taken (record-doubts.ts): said once per kind. */
  private onRecordDoubt(doubt: RecordDoubt): void {
    const o = this.current;
    const { message, code } = describeDoubt(doubt, { dedupKey: o.dedupKey, eventTime: o.eventTime, dedupWindowMs: o.dedupWindowMs });
    if (code === undefined) this.emit('info', message);
    else this.emit('warning', message, code);
  }

  /** Said once, with the size that would have held every key so far. */
  private onDedupForgetting(forgottenInWindow: number): void {
    if (this.forgettingWarned) return;
    this.forgettingWarned = true;
    const distinctKeys = this.counters.get('recordsEmitted') - this.counters.get('withoutKey');
    this.emit('warning', forgettingWarning(this.dedup!, forgottenInWindow, distinctKeys, this.options.dedupWindowMs), 'ORDERTAIL_DEDUP_FORGETTING');
  }

  private checkpointSubject(pipeline: Pipeline, sink: Sink, dedup: DedupTable): CheckpointSubject {
    // The getters below read the engine's fields as they are at each commit.
    const engine = this;
    const counters = this.counters;
    return {
      dedup,
      sink,
      // Read at each commit: a reload may have switched the sink.
      get fileSink() {
        return engine.fileSink;
      },
      deadLetter: this.deadLetter,
      iterator: this.iterator,
      get sinkKind() {
        return engine.sinkKind;
      },
      get nextSink() {
        const file = engine.pendingSink?.fileSink;
        return file ? { path: resolve(file.path), committedBytes: file.bytesWritten, identity: file.identity } : undefined;
      },
      get outputsLeft() {
        return engine.outputsLeft;
      },
      files: () => pipeline.checkpointFiles(),
      progress: () => counters.values[Counter.bytesRead]! + counters.get('recordsRead') + pipeline.fileCount,
      request: () => {
        this.localCheckpointDue = true;
        return pipeline.requestCheckpoint();
      },
    };
  }

  /**
   * The pipeline's checkpoint point (right after a sink flush): a
   * transactional sink commits its records with these offsets first, then the
   * local checkpoint (when one is due), so the local one is never ahead of
   * the database. A sink commit that no retry fixes fails the engine.
   */
  private async commitPoint(): Promise<void> {
    // A checkpoint must not commit a length an output file no longer has.
    this.outputRotation?.check();
    const next = this.pendingSink;
    if (next && this.switchDue(next)) this.switchSink(next);
    const tx = this.txSink;
    if (tx) {
      try {
        await tx.commitWith(this.pipeline!.checkpointFiles());
        // The local checkpoint is never ahead of the database: it waits for that commit to land.
        if (this.checkpointer && this.localCheckpointDue) await tx.flush();
      } catch (err) {
        // The engine's failure is the report: rethrown, the pipeline would log it again as a failed checkpoint.
        this.fail(err instanceof EngineError ? err : new EngineError('ORDERTAIL_SINK', `${tx.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
        return;
      }
    }
    if (this.checkpointer && (!tx || this.localCheckpointDue)) {
      this.localCheckpointDue = false;
      await this.checkpointer.commit();
      // A sink switch waits for a checkpoint naming the new sink to land: the commit point after it switches.
      if (this.pendingSink) void this.checkpointer.store.settled().then(() => this.pipeline?.requestCheckpoint());
    }
  }

  /**
   * Whether the sink a reload opened may take records now. A file must first
   * be named by a checkpoint that has landed (`nextSink`, at the length it had
   * when opened): a restart from that checkpoint or a later one cuts it back,
   * as it cuts back the file it replaces, so records written to it before the
   * next checkpoint are neither lost nor repeated. Until then records go on
   * to the old sink; nothing waits. stdout cannot be cut back, nor needs to be.
   */
  private switchDue(next: NonNullable<Engine['pendingSink']>): boolean {
    if (!this.checkpointer || !next.fileSink) return true;
    const landed = this.checkpointer.store.lastCommitted?.nextSink;
    return landed !== undefined && landed.path === resolve(next.fileSink.path);
  }

  /**
   * Put the sink a reload opened in place of the one in use, at a checkpoint
   * boundary (everything emitted so far is in the old sink), without waiting:
   * the old sink is flushed and closed beside the records that go on to the
   * new one, and every checkpoint after waits for that before it is durable.
   */
  private switchSink(next: NonNullable<Engine['pendingSink']>): void {
    this.pendingSink = undefined;
    const old = this.sinkSwitch!.swap(next.sink);
    const closing = old.flush().then(() => old.close());
    this.outputsLeft = closing;
    closing.then(
      () => {
        if (this.outputsLeft === closing) this.outputsLeft = undefined;
      },
      (err: unknown) => this.fail(new EngineError('ORDERTAIL_SINK', `${old.name}: flushing it after a sink switch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })),
    );
    this.fileSink = next.fileSink;
    this.sinkKind = next.fileSink ? 'none' : 'stdout';
    if (next.fileSink) this.outputPaths.add(resolve(next.fileSink.path));
    this.emit('info', `sink switched: ${old.name} → ${next.sink.name}`);
  }

  /** What output-rotation.ts sees of the engine: its outputs as they are at each look, and the sink switch. */
  private rotationHost(): RotationHost {
    const engine = this;
    return {
      // Not while a switch is pending: the sink it replaces is on its way out.
      get fileSink() {
        return engine.sinkSwitch && !engine.pendingSink ? engine.fileSink : undefined;
      },
      deadLetter: this.deadLetter,
      get idle() {
        return engine.state !== 'running';
      },
      openReplacement: () => openReplacementSink(this.current),
      switchAtCheckpoint: (next) => {
        this.pendingSink = next;
        void this.pipeline?.requestCheckpoint();
      },
      lengthChanged: () => void this.pipeline?.requestCheckpoint(),
      moved: (to) => this.outputPaths.add(to),
      info: (m) => this.emit('info', m),
      warn: (m) => this.emit('warning', m, 'ORDERTAIL_SINK_FILE_DELETED'),
    };
  }

  /** The sink a reload switches to, opened now: one that cannot be, or a switch this run cannot make, refuses the reload. */
  private openNextSink(o: ResolvedOptions): ReturnType<typeof openReplacementSink> {
    if (!this.sinkSwitch) throw new ConfigError(`\`sink\` cannot change at run time ${this.iterator ? 'while records() takes the records' : 'in this run'}; restart to apply`, 'sink');
    try {
      return openReplacementSink(o);
    } catch (err) {
      // Already named with why (engine/outputs.ts).
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`\`sink\` ${o.sink.kind === 'file' ? o.sink.path : o.sink.kind} cannot be opened: ${err instanceof Error ? err.message : String(err)}`, 'sink');
    }
  }

  /** The metrics server's base URL when the `metricsPort` option started one. */
  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  /** For a metrics sampler (TelemetrySource): keep per-interval latency values from now on. */
  keepIntervalLatency(): void {
    this.latency.live.keepInterval();
    this.latency.history.keepInterval();
  }

  /** For a metrics sampler: (µs, count) pairs of `stream` since the previous call (after keepIntervalLatency()). */
  intervalLatency(stream: 'live' | 'history'): readonly number[] | undefined {
    return this.latency[stream].takeInterval();
  }

  /** The WebSocket endpoint (`ws://host:port/`) when the `wsPort` option started one. */
  get wsUrl(): string | undefined {
    return this.broadcast?.broadcaster.url;
  }

  /** The WebSocket broadcaster's counts now (clients, frames, drops, disconnects, refusals), when it runs. */
  async wsStats(): Promise<import('../broadcast/stats.js').BroadcastStats | undefined> {
    return this.broadcast?.broadcaster.refresh();
  }

  /** For the status page: where the WebSocket endpoint listens, when there is one. */
  broadcastEndpoint(): { port: number; tokenRequired: boolean } | undefined {
    const b = this.broadcast?.broadcaster;
    return b && { port: b.port, tokenRequired: b.tokenRequired };
  }

  /**
   * Hybrid mode: records per path (live = the realtime pipeline, batch = closed
   * files read whole on the batch clock), first to see them or not, seen by one
   * path only, and the lag between the paths. undefined in other modes.
   */
  modeComparison(): { counts: ComparisonSnapshot; lagMs: Histogram } | undefined {
    // After a switch back to realtime the counts stay (frozen): they are counters.
    const c = this.comparison;
    return c && { counts: c.snapshot(), lagMs: c.lagHistogram };
  }

  /** How inputs are read now (for the metrics endpoints; `options.mode` is the same). */
  readMode(): ResolvedOptions['mode'] {
    return this.options.mode;
  }

  /** Feature flags in force, for the metrics endpoints and the status page. */
  features(): FeatureFlags {
    const o = this.options;
    const c = this.counters;
    return {
      liveLane: this.liveLane?.enabled ?? false,
      parserShadow: o.parserShadow,
      shadowSample: o.parserShadow ? o.shadowSample : 0,
      canaryParser: o.canaryParser,
      canaryShare: o.canaryParser ? o.canaryShare : 0,
      canaryRanges: c.get('canaryRanges'),
      canaryBytes: c.get('canaryBytes'),
    };
  }

  /** Records read/emitted/duplicate/rejected per stream (live vs history). */
  streamCounts(): { live: StreamCounts; history: StreamCounts } {
    return this.streams.snapshot();
  }

  /** Move result slots from the rings as soon as workers publish them. */
  private async pump(pool: ParsePool): Promise<void> {
    while (this.state === 'running' || this.state === 'stopping') {
      try {
        if (pool.drain() === 0) await pool.waitForSlots(100);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.iterator?.fail(error);
    if (this.listenerCount('error') > 0) this.emit('error', error);
    // Nobody else hears of it: a warning, as an unhandled failure should not go unseen.
    else if (!this.iterator) process.emitWarning(error);
    this.rejectFinished(error);
    if (this.started) this.stopAfterFailure();
  }

  /**
   * A failed engine emits nothing more: it stops itself, so its threads and
   * descriptors do not outlive a caller that only awaited finished() (which
   * rejects) or the records() loop (which threw). stop() returns this stop.
   */
  private stopAfterFailure(): void {
    this.stop().catch(() => {});
  }

  private logEvents(logger: Logger): void {
    this.on('info', (m) => logger.info(m));
    this.on('warning', (m, code) => logger.warn({ code }, m));
    this.on('rejected', rejectsLogger(logger, () => this.current.deadLetter !== undefined));
  }

  /** `once`: everything that existed at start has been emitted. */
  private onceFinished(): void {
    if (this.finishedEmitted || this.failure) return;
    this.finishedEmitted = true;
    const iterator = this.iterator;
    const tx = this.txSink;
    if (!iterator && tx) {
      // Into a database: finished once the last records are committed, so
      // that stop() has nothing left to write (the CLI bounds its shutdown,
      // and a big final commit on a busy server can take longer than that).
      this.pipeline!.requestCheckpoint()
        .then(() => tx.flush())
        .then(
          () => {
            if (!this.failure && this.state === 'running') this.announceFinished();
          },
          () => {},
        );
      return;
    }
    if (!iterator) {
      // A file sink writing behind the engine has the last records in hand: in the file first.
      const file = this.fileSink;
      (file ? file.settle() : Promise.resolve()).then(
        () => {
          if (!this.failure && this.state === 'running') this.announceFinished();
        },
        (err: unknown) => this.fail(sinkWriteFailed(file!.name, err)),
      );
      return;
    }
    // records(): finished once the loop has taken the last record, so that a
    // stop() right after finished() drops nothing.
    iterator.endInput();
    iterator.whenTaken(iterator.written).then(
      () => this.announceFinished(),
      () => {},
    );
  }

  private announceFinished(): void {
    this.resolveFinished();
    this.emit('finished');
  }

  stats(): EngineStats {
    const c = this.counters;
    const d = this.dedup?.stats();
    return {
      recordsRead: c.get('recordsRead'),
      recordsEmitted: c.get('recordsEmitted'),
      duplicates: c.get('duplicates'),
      rejected: c.get('rejected'),
      rejectedByReason: c.rejectsByReason(),
      withoutKey: c.get('withoutKey'),
      dedupForgotten: d?.forgotten ?? 0,
      dedupForgottenInWindow: d?.forgottenInWindow ?? 0,
      eventTimeInvalid: c.get('eventTimeInvalid'),
      paddingBytes: c.get('paddingBytes'),
      bytesRead: c.values[Counter.bytesRead]!,
      files: this.pipeline?.fileCount ?? 0,
      parser: this.parserName,
      shadow: { compared: c.get('shadowCompared'), mismatches: c.get('shadowMismatches') },
      dedup: { ...dedupSummary(d), impl: this.dedupImpl },
      latency: this.finalLatency?.live ?? this.latency.live.summary(),
      historyLatency: this.finalLatency?.history ?? this.latency.history.summary(),
      checkpoints: this.checkpointer?.stats() ?? { dir: undefined, committed: 0, failed: 0, lastCommittedAtMs: undefined },
      configReloads: this.reloads.stats(),
      openFiles: this.pipeline?.openFiles ?? 0,
      unread: this.pipeline?.unread ?? [],
    };
  }

  /** For a metrics sampler: the counters of stats() its readings are made of, nothing else. */
  readingCounts(): ReadingCounts {
    const c = this.counters;
    return {
      recordsRead: c.get('recordsRead'),
      recordsEmitted: c.get('recordsEmitted'),
      duplicates: c.get('duplicates'),
      rejected: c.get('rejected'),
      bytesRead: c.values[Counter.bytesRead]!,
    };
  }

  /** For a metrics sampler: the parse pool's queue (gauges() without the rest). */
  poolQueueSize(): number {
    return this.pool?.queueSize ?? 0;
  }

  /** Followed files, their size, what has been read, and the lag. */
  files(): FileTelemetry[] {
    return this.pipeline?.fileTelemetry() ?? [];
  }

  gauges(): PipelineGauges {
    const d = this.dedup?.stats();
    return {
      ringOccupancy: this.pool?.ringOccupancy() ?? [],
      ringCapacity: this.pool?.ringCapacity ?? 0,
      poolQueueSize: this.pool?.queueSize ?? 0,
      rangesInFlight: this.pipeline?.rangesInFlight ?? 0,
      dedup: dedupSummary(d),
      sink: { name: this.sink?.name ?? 'none', flushes: this.staging?.flushes ?? 0, errors: this.staging?.errors ?? 0 },
    };
  }

  histograms(): LatencyHistograms {
    return {
      stream: { live: this.latency.live.histogram, history: this.latency.history.histogram },
      stage: { parse: this.stages.parse, ringWait: this.stages.ringWait, dedup: this.stages.dedup, sinkWrite: this.stages.sinkWrite },
    };
  }

  /** Ready: started, every worker thread up, no fatal error, sink not failing, checkpoints landing. */
  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`engine is ${this.state}`);
    const threads = this.pool?.threadCount ?? 0;
    // No pool: none was wanted (a small --once run parses on this thread), or start-up has not reached it.
    const wanted = this.pool?.threadsWanted ?? (this.pipeline ? 0 : this.options.workers);
    if (threads < wanted) reasons.push(`${threads} of ${wanted} parse workers up`);
    if (this.failure) reasons.push(`failed: ${this.failure.message}`);
    if ((this.staging?.errors ?? 0) > 0) reasons.push(`sink ${this.sink?.name} reported ${this.staging!.errors} write error(s)`);
    const sinkDown = this.sink?.notReadyReason?.();
    if (sinkDown) reasons.push(`sink ${this.sink!.name}: ${sinkDown}`);
    const checkpointDown = this.checkpointer?.notReadyReason();
    if (checkpointDown) reasons.push(`checkpoint ${this.checkpointer!.dir}: ${checkpointDown}`);
    for (const input of this.natsInputs) {
      const down = input.notReadyReason();
      if (down) reasons.push(`input ${input.name}: ${down}`);
    }
    return { ok: reasons.length === 0, reasons };
  }

  /**
   * Out of time while stopping: stdout output not yet handed to the kernel is
   * dropped; `written` resolves once the piece being written is out, whole, so
   * the stream ends on a record boundary. undefined when the sink is not stdout.
   */
  abandonOutput(): { dropped: number; written: Promise<void> } | undefined {
    const sink = this.sinkSwitch?.target ?? this.sink;
    return sink instanceof StreamSink ? sink.abandon() : undefined;
  }

  /**
   * Stop reading, drain in-flight ranges, flush sinks, stop workers, free
   * timers and histograms. A records() loop ends at its next step (records it
   * has not taken are dropped, to be delivered again after a restart). Every
   * call returns the same promise: a second stop() waits for the first.
   */
  stop(): Promise<void> {
    this.forgetNeverStarted?.();
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(waitForStart = true): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.iterator?.stop();
    // A start-up still waiting for the database (or NATS server) would never settle: stop waiting.
    if (!this.started && (this.txSink || this.sink?.connect)) void this.sink?.close();
    if (!this.started) for (const input of this.natsInputs) void input.close();
    // stop() during start() (an abort, a loop left early): stop what start() has
    // built once it has built it, not half of it.
    if (waitForStart) await this.startSettled;
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      this.releaseHistograms();
      this.resolveFinished();
      return;
    }
    this.state = 'stopping';
    try {
      await this.shutDown();
    } finally {
      // Also when flushing failed: the directory is free for the next engine.
      this.checkpointer?.release();
    }
  }

  private async shutDown(): Promise<void> {
    const tx = this.txSink;
    const cancelBound = tx ? boundSinkStop(tx, (failure) => this.fail(failure)) : undefined;
    try {
      await this.shutDownOutputs();
    } finally {
      cancelBound?.();
    }
  }

  private async shutDownOutputs(): Promise<void> {
    this.checkpointer?.stopSchedule();
    clearInterval(this.outputFilesTimer);
    await this.metricsServer?.close();
    // The collector's last records go to its log first, then the pipeline drains them.
    await this.collector?.stop();
    await this.collectorLog?.close();
    this.discovery?.close();
    // Nothing more is spooled; what is spooled and not read yet is read after a restart (not acked meanwhile).
    await Promise.all(this.natsInputs.map((n) => n.stop()));
    this.batches?.stop();
    // A mode switch under way finishes first (a batch path it stops is drained, one it starts is not started now).
    await this.modeSwitches;
    await this.batchPath?.stop();
    await this.pipeline?.drain();
    // records(): a final checkpoint would cover records the loop never took.
    const allTaken = !this.iterator || (this.iterator.dropped === 0 && this.iterator.taken === this.iterator.written);
    if (this.pipeline && !this.failure && allTaken) {
      if (this.checkpointer) await this.checkpointer.commitFinal();
      else if (this.txSink) await this.pipeline.requestCheckpoint();
    }
    // After the final checkpoint, whose covered messages were acked: the acks go out, then the connections close.
    await Promise.all(this.natsInputs.map((n) => n.close().catch(() => {})));
    this.state = 'stopped';
    this.pool?.interruptWait();
    await this.pumping;
    // Outputs failing to close must not keep the workers and histograms alive.
    let closeError: unknown;
    const sinkName = this.sink?.name ?? 'the sink';
    const closes: [string, () => Promise<void> | undefined][] = [
      [sinkName, () => this.sink?.flush()],
      [sinkName, () => this.sink?.close()],
      [this.pendingSink?.sink.name ?? 'the next sink', () => this.pendingSink?.sink.close()],
      [`the dead-letter file ${this.deadLetter?.path ?? ''}`, () => this.deadLetter?.close()],
    ];
    for (const [name, close] of closes) {
      try {
        await close();
      } catch (err) {
        // Named like a failed write during the run (a stream's last write fails only here).
        closeError ??= err instanceof OrdertailError ? err : sinkWriteFailed(name, err);
      }
    }
    // After the sink: its last batches are broadcast too.
    await this.broadcast?.close();
    await this.pool?.close();
    this.pipeline?.close();
    this.batchPath?.close();
    this.releaseHistograms();
    this.resolveFinished();
    // After a failure, the failure is what was reported; an output that then fails to close is its consequence.
    if (closeError !== undefined && !this.failure) throw closeError;
  }

  /** HDR histograms hold WebAssembly memory the GC never frees; stats() keeps their last summaries. */
  private releaseHistograms(): void {
    if (this.finalLatency) return;
    this.finalLatency = { live: this.latency.live.summary(), history: this.latency.history.summary() };
    this.latency.live.destroy();
    this.latency.history.destroy();
    this.stages.destroy();
    this.comparison?.destroy();
  }
}

/** Options of one records() loop. */
export interface RecordsOptions {
  /** Aborting it ends the loop with an AbortError (code ABORT_ERR) and stops the engine. */
  signal?: AbortSignal | undefined;
  /** Records waiting for the loop before reading pauses. Default 10,000. */
  maxRecords?: number | undefined;
  /** Bytes of records waiting for the loop before reading pauses. Default 8 MiB. */
  maxBytes?: number | undefined;
}

/** Whether a local checkpoint's files and a transactional sink's offsets are the same resume points. */
function sameResumePoints(local: readonly CheckpointedFile[], committed: readonly CheckpointedFile[] | undefined): boolean {
  if (!committed || committed.length !== local.length) return false;
  const key = (f: CheckpointedFile): string => `${f.identity}@${f.offset}/${f.skipPartial}/${f.carryPhase}/${f.copyOf ?? ''}`;
  const a = local.map(key).sort();
  const b = committed.map(key).sort();
  return a.every((k, i) => k === b[i]);
}

function positiveInteger(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`records(): ${name} must be a positive integer, got ${String(value)}`, name);
  return value;
}
