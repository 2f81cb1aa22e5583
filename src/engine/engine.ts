/*
 * The Engine: options in, every stage wired (sources, pool, dedup, sinks,
 * checkpoints, metrics), its lifecycle (start, stop, failure) and the library
 * surface (records(), stats(), events). Over 400 lines because the lifecycle
 * touches every stage; the checkpoint schedule and commit (commitCheckpoint,
 * periodicCheckpoint) are the next piece to move out, as the dedup table's
 * share already did (checkpoint/dedup-state.ts).
 */
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveOptions, type EngineOptions, type ResolvedOptions } from '../config/options.js';
import { EmitStage } from '../dedup/emit-stage.js';
import { DedupTable } from '../dedup/table.js';
import { AUTO_TARGET_LOAD, sizeDedupTable } from '../dedup/sizing.js';
import { tableBytes } from '../dedup/layout.js';
import { Counter, Counters } from '../metrics/counters.js';
import { LatencyRecorder, type LatencySummary } from '../metrics/latency.js';
import { ParsePool, parsePoolConfig } from '../pool/parse-pool.js';
import { DeadLetterFile } from '../sinks/dead-letter.js';
import { FileSink } from '../sinks/file-sink.js';
import { abortError, DEFAULT_QUEUE_BOUNDS, ITERATOR_BATCH_BYTES, IteratorSink, RecordsNotTakenError } from '../sinks/iterator-sink.js';
import { ConfigError, EngineError } from '../config/errors.js';
import type { Sink } from '../sinks/sink.js';
import { StagingBuffer } from '../sinks/staging.js';
import { StreamSink } from '../sinks/stdout-sink.js';
import { FileDiscovery } from '../sources/discovery.js';
import { Pipeline } from './pipeline.js';
import { resolveParser, type ParserName } from '../parser/select.js';
import type { RejectReason } from '../parser/contract.js';
import type { WarningCode } from './warnings.js';
import { StageHistograms } from '../metrics/stages.js';
import { dedupSummary, type EngineStats, type FileTelemetry, type LatencyHistograms, type PipelineGauges, type Readiness, type StreamCounts, type TelemetrySource } from '../metrics/telemetry.js';
import { createLogger, type Logger } from '../metrics/logger.js';
import type { MetricsServer } from '../metrics/http-server.js';
import { StreamCounters } from '../metrics/counters.js';
import type { Registry } from 'prom-client';
import { createRegistry } from '../metrics/registry.js';
import type { CollectorConfig } from '../collector/config.js';
import { CheckpointStore } from '../checkpoint/store.js';
import { CheckpointLock } from '../checkpoint/lock.js';
import { DedupCheckpoint } from '../checkpoint/dedup-state.js';
import { resolveDedupImpl } from '../dedup/native-dedup.js';
import { checkOnceInputs } from '../sources/input-check.js';
import type { Unread } from '../sources/open-retry.js';

import type { CheckpointState, CheckpointedOutput } from '../checkpoint/manifest.js';
import { identityOfPath } from '../checkpoint/identity.js';

export type { EngineStats } from '../metrics/telemetry.js';

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

/**
 * The embeddable engine: `new Engine(options)`, `await start()`, read records
 * from `records()` (or a configured sink), `stats()`, `await stop()`.
 */
export class Engine extends EventEmitter<EngineEventMap> implements TelemetrySource {
  readonly options: ResolvedOptions;
  readonly startedAt = Date.now();
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
  private collectorLog: FileSink | undefined;
  private staging: StagingBuffer | undefined;
  private failure: Error | undefined;
  private readonly counters = new Counters();
  private readonly latency = { live: new LatencyRecorder(), history: new LatencyRecorder() };
  private iterator: IteratorSink | undefined;
  private sink: Sink | undefined;
  private deadLetter: DeadLetterFile | undefined;
  private pool: ParsePool | undefined;
  private dedup: DedupTable | undefined;
  private pipeline: Pipeline | undefined;
  private discovery: FileDiscovery | undefined;
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
  private checkpointStore: CheckpointStore | undefined;
  private checkpointLock: CheckpointLock | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  private checkpointsCommitted = 0;
  private checkpointsFailed = 0;
  private lastCheckpointAtMs: number | undefined;
  private lastCheckpointProgress = -1;
  private finalCheckpoint = false;
  /** The dedup table's share of checkpoints (checkpointing only). */
  private dedupCheckpoint: DedupCheckpoint | undefined;
  private fileSink: FileSink | undefined;
  /** Files skipped by ignoreOlder: path → size then (followed from there if they change). */
  private readonly ignored = new Map<string, number>();

  constructor(options: EngineOptions) {
    super();
    this.options = resolveOptions(options);
    // Library mode logs only when asked to: a logger, or a logLevel (pino JSON on stderr).
    this.logger = options.logger ?? createLogger({ level: options.logLevel === undefined ? 'silent' : this.options.logLevel });
    // A logger of our own: nobody else turns the engine's events into log lines (the CLI does, with its own).
    if (!options.logger && options.logLevel !== undefined) this.logEvents(this.logger);
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
    this.iterator = new IteratorSink(bounds, () => void this.stop());
    return this.iterator.iterator(options.signal);
  }

  /**
   * With `once`: resolves when all input has been emitted (with records(): and
   * taken by its loop), or at stop(). Rejects with the engine's error when it fails.
   */
  finished(): Promise<void> {
    return this.finishedPromise;
  }

  /** Records waiting for the records() loop, their bytes, and the most that ever waited. */
  recordsQueue(): { records: number; bytes: number; peakRecords: number; peakBytes: number } | undefined {
    const it = this.iterator;
    return it && { records: it.waitingRecords, bytes: it.waitingBytes, peakRecords: it.peakRecords, peakBytes: it.peakBytes };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new EngineError('ORDERTAIL_STARTED', `start() called on a ${this.state} engine`);
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
    let restored: CheckpointState | undefined;
    if (o.checkpoint) {
      this.checkpointStore = new CheckpointStore(resolve(o.checkpoint));
      // Before reading or resetting anything: a second engine on the directory stops here.
      this.checkpointLock = CheckpointLock.acquire(this.checkpointStore.dir, (m) => this.emit('warning', m, 'ORDERTAIL_CHECKPOINT_LOCK_TAKEN_OVER'));
      try {
        if (o.resetCheckpoint) {
          this.checkpointStore.reset();
          this.emit('warning', `checkpoint ${this.checkpointStore.manifestPath} reset: starting fresh`, 'ORDERTAIL_CHECKPOINT_RESET');
        } else {
          restored = this.checkpointStore.load();
        }
      } catch (err) {
        this.checkpointLock.release();
        throw err;
      }
      this.generation = restored?.generation ?? 0;
    }
    this.state = 'running';
    try {
      this.sink = this.iterator ?? this.openSink(restored?.sink);
      this.deadLetter = o.deadLetter ? new DeadLetterFile(o.deadLetter, this.committedLength(restored?.deadLetter, o.deadLetter) ?? this.freshLength()) : undefined;
      this.dedupCheckpoint = this.checkpointStore ? new DedupCheckpoint(this.checkpointStore) : undefined;
      this.discovery = new FileDiscovery(o.input, (m, about) => this.emit('warning', m, about === 'input' ? 'ORDERTAIL_INPUT_UNREADABLE' : 'ORDERTAIL_WATCH_UNAVAILABLE'));
      // The table is sized from what exists now; the scan that reads runs after
      // the collector's first poll (its log is an input too).
      this.dedup = this.openDedup(restored, this.discovery.scan());
    } catch (err) {
      this.state = 'stopped';
      this.checkpointLock?.release();
      throw err;
    }
    if (this.checkpointStore) this.emit('info', `checkpoints: ${this.checkpointStore.dir} (every ${o.checkpointIntervalMs} ms and at stop)`);
    if (restored) {
      this.emit('info', `checkpoint ${this.checkpointStore!.manifestPath}: resuming ${restored.files.length} file(s) from generation ${restored.generation} (${new Date(restored.writtenAtMs).toISOString()})`);
    }
    try {
      await this.startReading(restored, this.sink!, this.dedup!);
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

  private async startReading(restored: CheckpointState | undefined, sink: Sink, dedup: DedupTable): Promise<void> {
    const o = this.options;
    const chosen = resolveParser(o.parser);
    this.parserName = chosen.name;
    if (chosen.fallbackReason) this.emit('warning', `native parser unavailable, using js: ${chosen.fallbackReason}`, 'ORDERTAIL_NATIVE_UNAVAILABLE');
    // Fail at start-up, not in every worker, when the shadow parser cannot load.
    if (o.parserShadow) resolveParser(o.parserShadow);
    const dedupImpl = resolveDedupImpl(o.dedupImpl);
    this.dedupImpl = dedupImpl.name;
    if (dedupImpl.fallbackReason && chosen.name === 'native') this.emit('warning', `native dedup unavailable, using js: ${dedupImpl.fallbackReason}`, 'ORDERTAIL_NATIVE_UNAVAILABLE');
    this.emit('info', `parser: ${chosen.name}${o.parserShadow ? ` (shadow: ${o.parserShadow}, sample ${o.shadowSample})` : ''}, dedup inserts: ${dedupImpl.name}`);
    this.pool = new ParsePool({
      ...parsePoolConfig(o, chosen.name),
      onWorkerError: (e) => this.fail(new Error(`parse worker failed: ${e.message}`, { cause: e })),
    });
    // Small batches for records(): a batch that crosses the queue's bounds is taken whole.
    const staging = new StagingBuffer(sink, this.iterator ? ITERATOR_BATCH_BYTES : 1 << 20, (us) => this.stages.sinkWrite.recordValue(us));
    this.staging = staging;
    const emit = new EmitStage(dedup, staging, this.counters, this.latency, this.deadLetter, (entry) =>
      this.emit('rejected', entry as RejectedRecord),
    this.streams, this.dedupCheckpoint?.journal, dedupImpl.native, (n) => this.onDedupForgetting(n));
    this.pipeline = new Pipeline(o, this.pool, emit, staging, this.counters, this.stages, this.logger, {
      warn: (m, code) => this.emit('warning', m, code),
      fail: (e) => this.fail(e),
      reject: (entry) => {
        this.deadLetter?.write(entry);
        this.emit('rejected', entry);
      },
      idle: () => {
        if (o.once) this.onceFinished();
      },
      checkpoint: this.checkpointStore ? () => this.commitCheckpoint() : undefined,
    });
    if (restored) this.pipeline.resumeFrom(restored.files);
    this.pumping = this.pump();
    if (o.collector) await this.startCollector(o.collector);
    // Our own outputs may match a broad input glob; reading them back would
    // loop forever in follow mode.
    const outputs = new Set([o.sink.kind === 'file' ? resolve(o.sink.path) : '', o.deadLetter ? resolve(o.deadLetter) : '']);
    const isOutput = (path: string): boolean => {
      if (!outputs.has(path)) return false;
      this.emit('warning', `${path} matches the input glob but is an output of this engine; not read`, 'ORDERTAIL_INPUT_IS_OUTPUT');
      return true;
    };
    const existing = this.discovery!.scan().filter((p) => !isOutput(p) && !this.ignoredAtStartup(p));
    // With `once`, a directory that could not be listed is input that was not read.
    if (o.once) for (const [base, code] of this.discovery!.unlisted) this.pipeline.markUnread(`${base}/`, `cannot list: ${code}`);
    const newest = newestOf(existing);
    for (const path of existing) this.pipeline.addFile(path, 'startup', o.from === 'end');
    if (newest) this.pipeline.markLive(newest);
    this.pipeline.recoverMoved();
    if (!o.once) {
      this.discovery!.follow((path) => {
        if (isOutput(path)) return;
        const ignoredSize = this.ignored.get(path);
        if (ignoredSize !== undefined) {
          this.resumeIgnored(path, ignoredSize);
          return;
        }
        this.pipeline?.addFile(path, 'discovered');
      }, (path) => this.ignored.has(path) || (this.pipeline?.isSettling(path) ?? false));
    }
    this.pipeline.startupComplete();
    // Also with `once`: a long replay killed halfway resumes instead of starting over.
    if (this.checkpointStore) {
      this.checkpointTimer = setInterval(() => this.periodicCheckpoint(), o.checkpointIntervalMs);
      this.checkpointTimer.unref();
      // Nothing committed yet: commit the starting point before the first output, or a
      // crash before the first periodic checkpoint leaves output no restart can roll back.
      if (!restored) void this.pipeline.requestCheckpoint();
    }
    if (o.metricsPort !== undefined) {
      const { startMetricsServer } = await import('../metrics/http-server.js');
      this.metricsServer = await startMetricsServer({ source: this, registry: this.registry, host: o.metricsHost, port: o.metricsPort, allowedHosts: o.metricsAllowedHosts, logger: this.logger });
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
    const log = new FileSink(this.options.collectorLog, { pageCache: 'keep' });
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

  private openSink(committed: CheckpointedOutput | undefined): Sink {
    const o = this.options;
    switch (o.sink.kind) {
      case 'stdout':
        return new StreamSink(process.stdout);
      case 'file':
        this.fileSink = new FileSink(o.sink.path, { committedBytes: this.committedLength(committed, o.sink.path) ?? this.freshLength(), pageCache: o.sinkPageCache });
        return this.fileSink;
      case 'none':
        return { name: 'none', write: () => true, flush: async () => {}, close: async () => {} };
    }
  }

  /** An output no checkpoint resumes: kept as it is (append) or emptied (truncate: a re-run replaces it). */
  private freshLength(): number | undefined {
    return this.options.sinkMode === 'truncate' ? 0 : undefined;
  }

  /** The length a checkpoint committed for this output file, when it was written for the same file. */
  private committedLength(committed: CheckpointedOutput | undefined, path: string): number | undefined {
    if (!committed || committed.committedBytes === undefined || committed.path === undefined) return undefined;
    if (resolve(committed.path) !== resolve(path)) {
      this.emit('warning', `checkpoint was written for output ${committed.path}, now ${path}: that file is left as it is`, 'ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED');
      return undefined;
    }
    return committed.committedBytes;
  }

  private openDedup(restored: CheckpointState | undefined, inputs: readonly string[]): DedupTable {
    const o = this.options;
    const sizing = sizeDedupTable({
      requested: o.dedupCapacity,
      memoryCapBytes: o.dedupMemoryBytes,
      follow: !o.once,
      paths: inputs,
      ...(restored ? { restoredCapacity: restored.dedup.capacity } : {}),
    });
    const mib = (sizing.bytes / 2 ** 20).toFixed(1);
    const basis = sizing.estimatedRecords === undefined
      ? 'dedupCapacity'
      : `auto: ~${sizing.estimatedRecords} records in ${inputs.length} input file(s)${sizing.capped ? `, capped by dedupMemory ${o.dedupMemoryBytes} B` : ''}`;
    this.emit('info', `dedup table: ${sizing.capacity} keys, ${mib} MiB (${basis}); window ${o.dedupWindowMs} ms`);
    if (sizing.capped) this.emit('warning', `dedup table capped at ${mib} MiB by dedupMemory: ~${sizing.estimatedRecords} records at start-up need ${Math.ceil(sizing.estimatedRecords! / AUTO_TARGET_LOAD)} keys; the oldest keys will be forgotten`, 'ORDERTAIL_DEDUP_CAPPED');
    const options = { capacity: sizing.capacity, windowMs: o.dedupWindowMs };
    const checkpoint = this.dedupCheckpoint;
    if (!checkpoint) return DedupTable.create(options);
    if (!restored) return checkpoint.fresh(options);
    return checkpoint.restore(restored, options, (from, to) =>
      this.emit('warning', `dedup capacity changed since the checkpoint (${from} → ${to}): its entries were re-inserted`, 'ORDERTAIL_CHECKPOINT_CAPACITY_CHANGED'),
    );
  }

  /**
   * Keys still inside the window were replaced: duplicates of them may pass.
   * Said once, with the size that would have held every key so far.
   */
  private onDedupForgetting(forgottenInWindow: number): void {
    if (this.forgettingWarned) return;
    this.forgettingWarned = true;
    const d = this.dedup!.stats();
    const keys = this.counters.get('recordsEmitted') - this.counters.get('withoutKey');
    const needed = Math.ceil(Math.max(keys, d.entries) / AUTO_TARGET_LOAD);
    this.emit(
      'warning',
      `dedup table full: ${forgottenInWindow} key(s) forgotten while still inside the ${this.options.dedupWindowMs} ms window, so copies of them may pass ` +
        `(table holds ${d.capacity} keys, ${(d.bytes / 2 ** 20).toFixed(1)} MiB; ~${keys} distinct keys so far: --dedup-capacity ${needed} (~${(tableBytes(needed) / 2 ** 20).toFixed(0)} MiB) would hold them). Counted in ordertail_dedup_forgotten_in_window_total.`,
      'ORDERTAIL_DEDUP_FORGETTING',
    );
  }

  private ignoredAtStartup(path: string): boolean {
    const limit = this.options.ignoreOlderMs;
    if (limit === undefined) return false;
    const id = identityOfPath(path);
    if (!id || Date.now() - id.mtimeMs <= limit || this.pipeline?.isCheckpointed(id.key)) return false;
    this.ignored.set(path, id.size);
    this.emit('info', `${path}: last modified ${new Date(id.mtimeMs).toISOString()}, older than ignoreOlder; skipped until it changes`);
    return true;
  }

  /** An ignored file changed: follow it from where it stood when it was skipped. */
  private resumeIgnored(path: string, size: number): void {
    const id = identityOfPath(path);
    if (!id || id.size === size) return;
    this.ignored.delete(path);
    this.pipeline?.addFileAt(path, size);
  }

  private progress(): number {
    const c = this.counters;
    return c.values[Counter.bytesRead]! + c.get('recordsRead') + (this.pipeline?.fileCount ?? 0);
  }

  private periodicCheckpoint(): void {
    if (this.state !== 'running' || !this.checkpointStore || this.checkpointStore.busy) return;
    // Nothing read since the last one: the committed state is still exact.
    if (this.progress() === this.lastCheckpointProgress) return;
    void this.pipeline?.requestCheckpoint();
  }

  /**
   * Runs inside the pipeline's emit loop right after a sink flush, so file
   * offsets, output lengths and the dedup table describe the same moment.
   * The table is copied to disk before returning (nothing inserts meanwhile);
   * fsyncs and the manifest rename complete in the background, except for the
   * final checkpoint at stop, which is awaited.
   */
  private async commitCheckpoint(): Promise<void> {
    const store = this.checkpointStore!;
    if (store.busy) {
      if (!this.finalCheckpoint) return;
      await store.settled();
    }
    const o = this.options;
    this.lastCheckpointProgress = this.progress();
    const dedup = this.dedup!;
    const dedupCheckpoint = this.dedupCheckpoint!;
    const { writes, manifest } = dedupCheckpoint.prepare(dedup);
    const state: CheckpointState = {
      generation: ++this.generation,
      writtenAtMs: Date.now(),
      sink: this.fileSink ? { kind: 'file', path: resolve(this.fileSink.path), committedBytes: this.fileSink.bytesWritten } : { kind: this.iterator ? 'iterator' : o.sink.kind === 'file' ? 'none' : o.sink.kind },
      deadLetter: this.deadLetter ? { kind: 'file', path: resolve(this.deadLetter.path), committedBytes: this.deadLetter.bytesWritten } : undefined,
      dedup: { ...manifest, windowMs: o.dedupWindowMs, capacity: dedup.capacity },
      files: this.pipeline!.checkpointFiles(),
    };
    const sink = this.sink!;
    const deadLetter = this.deadLetter;
    const iterator = this.iterator;
    // records(): the checkpoint covers what has been written to the queue; it is
    // committed only once the consumer has taken all of it (at-least-once).
    const takenMark = iterator?.written ?? 0;
    const committing = store
      .commit(state, writes, async () => {
        await iterator?.whenTaken(takenMark);
        await sink.flush();
        await deadLetter?.flush();
      })
      .then(
        () => {
          dedupCheckpoint.committed(store.lastCommitted!);
          this.checkpointsCommitted++;
          this.lastCheckpointAtMs = state.writtenAtMs;
        },
        (err: unknown) => {
          // The records() loop ended before taking what this checkpoint covers: not
          // committing it is the at-least-once rule at work, not a failure.
          if (err instanceof RecordsNotTakenError) return;
          this.checkpointsFailed++;
          this.emit('warning', `checkpoint ${state.generation} not committed: ${err instanceof Error ? err.message : String(err)}`, 'ORDERTAIL_CHECKPOINT_FAILED');
        },
      );
    // The first commit (no earlier one to fall back on) is awaited too: output waits for it.
    if (this.finalCheckpoint || state.generation === 1) await committing;
  }

  /** The metrics server's base URL when the `metricsPort` option started one. */
  get metricsUrl(): string | undefined {
    return this.metricsServer?.url;
  }

  /** Records read/emitted/duplicate/rejected per stream (live vs history). */
  streamCounts(): { live: StreamCounts; history: StreamCounts } {
    return this.streams.snapshot();
  }

  /** Move result slots from the rings as soon as workers publish them. */
  private async pump(): Promise<void> {
    const pool = this.pool!;
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
    this.on('rejected', (r) => logger.debug({ file: r.file, offset: r.offset, reason: r.reason }, 'record rejected'));
  }

  /** `once`: everything that existed at start has been emitted. */
  private onceFinished(): void {
    if (this.finishedEmitted || this.failure) return;
    this.finishedEmitted = true;
    const iterator = this.iterator;
    if (!iterator) {
      this.announceFinished();
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
      bytesRead: c.values[Counter.bytesRead]!,
      files: this.pipeline?.fileCount ?? 0,
      parser: this.parserName,
      shadow: { compared: c.get('shadowCompared'), mismatches: c.get('shadowMismatches') },
      dedup: { ...dedupSummary(d), impl: this.dedupImpl },
      latency: this.finalLatency?.live ?? this.latency.live.summary(),
      historyLatency: this.finalLatency?.history ?? this.latency.history.summary(),
      checkpoints: { dir: this.checkpointStore?.dir, committed: this.checkpointsCommitted, failed: this.checkpointsFailed, lastCommittedAtMs: this.lastCheckpointAtMs },
      openFiles: this.pipeline?.openFiles ?? 0,
      unread: this.pipeline?.unread ?? [],
    };
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

  /** Ready: started, every worker thread up, no fatal error, sink not failing. */
  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.state !== 'running') reasons.push(`engine is ${this.state}`);
    const threads = this.pool?.threadCount ?? 0;
    const wanted = this.pool?.threadsWanted ?? this.options.workers;
    if (threads < wanted) reasons.push(`${threads} of ${wanted} parse workers up`);
    if (this.failure) reasons.push(`failed: ${this.failure.message}`);
    if ((this.staging?.errors ?? 0) > 0) reasons.push(`sink ${this.sink?.name} reported ${this.staging!.errors} write error(s)`);
    return { ok: reasons.length === 0, reasons };
  }

  /**
   * Out of time while stopping: stdout output not yet handed to the kernel is
   * dropped; `written` resolves once the piece being written is out, whole, so
   * the stream ends on a record boundary. undefined when the sink is not stdout.
   */
  abandonOutput(): { dropped: number; written: Promise<void> } | undefined {
    return this.sink instanceof StreamSink ? this.sink.abandon() : undefined;
  }

  /**
   * Stop reading, drain in-flight ranges, flush sinks, stop workers, free
   * timers and histograms. A records() loop ends at its next step (records it
   * has not taken are dropped, to be delivered again after a restart). Every
   * call returns the same promise: a second stop() waits for the first.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(waitForStart = true): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.iterator?.stop();
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
      this.checkpointLock?.release();
    }
  }

  private async shutDown(): Promise<void> {
    await this.metricsServer?.close();
    // The collector's last records go to its log first, then the pipeline drains them.
    await this.collector?.stop();
    await this.collectorLog?.close();
    this.discovery?.close();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.pipeline?.drain();
    // records(): a final checkpoint would cover records the loop never took.
    const allTaken = !this.iterator || (this.iterator.dropped === 0 && this.iterator.taken === this.iterator.written);
    if (this.checkpointStore && this.pipeline && !this.failure && allTaken) {
      this.finalCheckpoint = true;
      await this.pipeline.requestCheckpoint();
      await this.checkpointStore.settled();
    }
    this.state = 'stopped';
    this.pool?.interruptWait();
    await this.pumping;
    // Outputs failing to close must not keep the workers and histograms alive.
    let closeError: unknown;
    for (const close of [() => this.sink?.flush(), () => this.sink?.close(), () => this.deadLetter?.close()]) {
      try {
        await close();
      } catch (err) {
        closeError ??= err;
      }
    }
    await this.pool?.close();
    this.pipeline?.close();
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

function positiveInteger(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`records(): ${name} must be a positive integer, got ${String(value)}`, name);
  return value;
}

function newestOf(paths: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestTime = -Infinity;
  for (const path of paths) {
    try {
      const t = statSync(path).mtimeMs;
      if (t > bestTime) {
        bestTime = t;
        best = path;
      }
    } catch {
      /* vanished between glob and stat */
    }
  }
  return best;
}
