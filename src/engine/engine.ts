import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveOptions, type EngineOptions, type ResolvedOptions } from '../config/options.js';
import { EmitStage } from '../dedup/emit-stage.js';
import { DedupTable } from '../dedup/table.js';
import { Counter, Counters } from '../metrics/counters.js';
import { LatencyRecorder, type LatencySummary } from '../metrics/latency.js';
import { ParsePool, parsePoolConfig } from '../pool/parse-pool.js';
import { DeadLetterFile } from '../sinks/dead-letter.js';
import { FileSink } from '../sinks/file-sink.js';
import { IteratorSink } from '../sinks/iterator-sink.js';
import type { Sink } from '../sinks/sink.js';
import { StagingBuffer } from '../sinks/staging.js';
import { StreamSink } from '../sinks/stdout-sink.js';
import { FileDiscovery } from '../sources/discovery.js';
import { Pipeline } from './pipeline.js';
import { resolveParser } from '../parser/select.js';
import { StageHistograms } from '../metrics/stages.js';
import type { FileTelemetry, LatencyHistograms, PipelineGauges, Readiness, StreamCounts, TelemetrySource } from '../metrics/telemetry.js';
import { createLogger, type Logger } from '../metrics/logger.js';
import type { MetricsServer } from '../metrics/http-server.js';
import { StreamCounters } from '../metrics/counters.js';
import type { Registry } from 'prom-client';
import { createRegistry } from '../metrics/registry.js';
import type { CollectorConfig } from '../collector/config.js';
import { CheckpointStore } from '../checkpoint/store.js';
import { CheckpointError } from '../checkpoint/errors.js';
import { CheckpointLock } from '../checkpoint/lock.js';
import { DedupJournal } from '../checkpoint/dedup-journal.js';
import { resolveDedupImpl } from '../dedup/native-dedup.js';
import { checkOnceInputs } from '../sources/input-check.js';
import type { Unread } from '../sources/open-retry.js';

/**
 * Journal entries (16 B each) after which the next checkpoint takes a full
 * dedup snapshot: bounds both the journal file and a restart's replay (~0.15 s).
 */
const JOURNAL_LIMIT_ENTRIES = 512 * 1024;
const EMPTY_DEDUP_BASE = { format: 'entries', file: '', byteLength: 0 } as const;
import type { CheckpointState, CheckpointedOutput } from '../checkpoint/manifest.js';
import { identityOfPath } from '../checkpoint/identity.js';

export interface EngineStats {
  recordsRead: number;
  recordsEmitted: number;
  duplicates: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  withoutKey: number;
  dedupOverflow: number;
  eventTimeInvalid: number;
  bytesRead: number;
  files: number;
  /** The parser the workers run (js | native | simdjson). */
  parser: string;
  /** Shadow parsing: records compared and disagreements (0/0 when off). */
  shadow: { compared: number; mismatches: number };
  /** impl: who inserts on the main thread, the addon's batch insert or DedupTable.insertAt (js). */
  dedup: { capacity: number; live: number; overflows: number; impl: 'js' | 'native' };
  /** Live stream (growth observed while following) → emitted, milliseconds. */
  latency: LatencySummary;
  /** History (content present when a file was opened) → emitted, milliseconds. */
  historyLatency: LatencySummary;
  /** Checkpoints committed (0 when checkpointing is off) and failed. */
  checkpoints: { dir: string | undefined; committed: number; failed: number; lastCommittedAtMs: number | undefined };
  /** Input file descriptors open now (capped by maxOpenFiles). */
  openFiles: number;
  /** Inputs that could not be read (with `once`: after retries); a `once` run with any did not read everything. */
  unread: Unread[];
}

export interface RejectedRecord {
  file: string;
  offset: number;
  reason: string;
  sample: string;
}

export interface EngineEventMap {
  /** Start-up facts worth a log line (the parser chosen). */
  info: [message: string];
  warning: [message: string];
  error: [error: Error];
  rejected: [record: RejectedRecord];
  /** With `once`: everything that existed at start has been emitted. */
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
  private parserName = 'js';
  private dedupImpl: 'js' | 'native' = 'js';
  private checkpointStore: CheckpointStore | undefined;
  private checkpointLock: CheckpointLock | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  private checkpointsCommitted = 0;
  private checkpointsFailed = 0;
  private lastCheckpointAtMs: number | undefined;
  private lastCheckpointProgress = -1;
  private finalCheckpoint = false;
  private entriesBuffer: ArrayBuffer | undefined;
  /** Keys inserted since the last full dedup snapshot (checkpointing only). */
  private journal: DedupJournal | undefined;
  /** The committed full snapshot the journal extends (undefined: the next checkpoint takes a full one). */
  private dedupBase: Pick<CheckpointState['dedup'], 'format' | 'file' | 'byteLength'> | undefined;
  private fileSink: FileSink | undefined;
  /** Files skipped by ignoreOlder: path → size then (followed from there if they change). */
  private readonly ignored = new Map<string, number>();

  constructor(options: EngineOptions) {
    super();
    this.options = resolveOptions(options);
    this.logger = options.logger ?? createLogger({ level: 'silent' });
    this.finishedPromise = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  /**
   * Accepted records, one Buffer each (original bytes, no newline). Call before
   * start(); it then replaces the configured sink. Backpressure reaches the
   * workers: a slow consumer slows reading, nothing is buffered without bound.
   */
  records(): AsyncIterable<Buffer> {
    if (this.state !== 'new') throw new Error('records() must be called before start()');
    this.iterator ??= new IteratorSink();
    return this.iterator;
  }

  /** With `once`: resolves when all input has been emitted. */
  finished(): Promise<void> {
    return this.finishedPromise;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`start() called on a ${this.state} engine`);
    const o = this.options;
    // The collector's log is written by start() itself (one poll) before it is read.
    if (o.once) checkOnceInputs(o.collector ? o.input.filter((p) => resolve(p) !== resolve(o.collectorLog)) : o.input);
    // A checkpoint that cannot be used stops start-up before anything is touched.
    let restored: CheckpointState | undefined;
    if (o.checkpoint) {
      this.checkpointStore = new CheckpointStore(resolve(o.checkpoint));
      // Before reading or resetting anything: a second engine on the directory stops here.
      this.checkpointLock = CheckpointLock.acquire(this.checkpointStore.dir, (m) => this.emit('warning', m));
      try {
        if (o.resetCheckpoint) {
          this.checkpointStore.reset();
          this.emit('warning', `checkpoint ${this.checkpointStore.manifestPath} reset: starting fresh`);
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
      this.journal = this.checkpointStore ? new DedupJournal() : undefined;
      this.dedup = this.openDedup(restored);
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
      await this.stop().catch(() => {});
      throw err;
    }
  }

  private async startReading(restored: CheckpointState | undefined, sink: Sink, dedup: DedupTable): Promise<void> {
    const o = this.options;
    const chosen = resolveParser(o.parser);
    this.parserName = chosen.name;
    if (chosen.fallbackReason) this.emit('warning', `native parser unavailable, using js: ${chosen.fallbackReason}`);
    // Fail at start-up, not in every worker, when the shadow parser cannot load.
    if (o.parserShadow) resolveParser(o.parserShadow);
    const dedupImpl = resolveDedupImpl(o.dedupImpl);
    this.dedupImpl = dedupImpl.name;
    if (dedupImpl.fallbackReason && chosen.name === 'native') this.emit('warning', `native dedup unavailable, using js: ${dedupImpl.fallbackReason}`);
    this.emit('info', `parser: ${chosen.name}${o.parserShadow ? ` (shadow: ${o.parserShadow}, sample ${o.shadowSample})` : ''}, dedup inserts: ${dedupImpl.name}`);
    this.pool = new ParsePool({
      ...parsePoolConfig(o, chosen.name),
      onWorkerError: (e) => this.fail(new Error(`parse worker failed: ${e.message}`, { cause: e })),
    });
    const staging = new StagingBuffer(sink, 1 << 20, (us) => this.stages.sinkWrite.recordValue(us));
    this.staging = staging;
    const emit = new EmitStage(dedup, staging, this.counters, this.latency, this.deadLetter, (entry) =>
      this.emit('rejected', entry),
    this.streams, this.journal, dedupImpl.native);
    this.pipeline = new Pipeline(o, this.pool, emit, staging, this.counters, this.stages, this.logger, {
      warn: (m) => this.emit('warning', m),
      fail: (e) => this.fail(e),
      reject: (entry) => {
        this.deadLetter?.write(entry);
        this.emit('rejected', entry);
      },
      idle: () => {
        if (o.once) this.resolveFinished();
      },
      checkpoint: this.checkpointStore ? () => this.commitCheckpoint() : undefined,
    });
    if (restored) this.pipeline.resumeFrom(restored.files);
    this.pumping = this.pump();
    if (o.collector) await this.startCollector(o.collector);
    this.discovery = new FileDiscovery(o.input, (m) => this.emit('warning', m));
    // Our own outputs may match a broad input glob; reading them back would
    // loop forever in follow mode.
    const outputs = new Set([o.sink.kind === 'file' ? resolve(o.sink.path) : '', o.deadLetter ? resolve(o.deadLetter) : '']);
    const isOutput = (path: string): boolean => {
      if (!outputs.has(path)) return false;
      this.emit('warning', `${path} matches the input glob but is an output of this engine; not read`);
      return true;
    };
    const existing = this.discovery.scan().filter((p) => !isOutput(p) && !this.ignoredAtStartup(p));
    const newest = newestOf(existing);
    for (const path of existing) this.pipeline.addFile(path, 'startup', o.from === 'end');
    if (newest) this.pipeline.markLive(newest);
    this.pipeline.recoverMoved();
    if (!o.once) {
      this.discovery.follow((path) => {
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
    collector.on('warning', (m) => this.emit('warning', `collector: ${m}`));
    collector.on('error', (e) => this.emit('warning', `collector: ${e.message}`));
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
      this.emit('warning', `checkpoint was written for output ${committed.path}, now ${path}: that file is left as it is`);
      return undefined;
    }
    return committed.committedBytes;
  }

  private openDedup(restored: CheckpointState | undefined): DedupTable {
    const o = this.options;
    const options = { capacity: o.dedupCapacity, windowMs: o.dedupWindowMs };
    if (!restored) {
      // The snapshot a journal extends is, at first, the empty table: no file,
      // and the first checkpoints write only the journal.
      if (this.checkpointStore) this.dedupBase = EMPTY_DEDUP_BASE;
      return DedupTable.create(options);
    }
    const table = this.restoreSnapshot(restored);
    // Replay the keys inserted after the snapshot, and keep them journaled: the
    // next checkpoint can go on extending the same snapshot.
    const journal = this.checkpointStore!.readJournal(restored);
    const entries = journal.byteLength >> 4;
    const i32 = new Int32Array(journal.buffer, journal.byteOffset, entries * 4);
    const f64 = new Float64Array(journal.buffer, journal.byteOffset, entries * 2);
    for (let e = 0; e < entries; e++) {
      table.insertAt(i32[e * 4]!, i32[e * 4 + 1]!, f64, e * 2 + 1);
      this.journal!.push(i32[e * 4]!, i32[e * 4 + 1]!, f64, e * 2 + 1);
    }
    if (table.capacity === restored.dedup.capacity) this.dedupBase = { format: restored.dedup.format, file: restored.dedup.file, byteLength: restored.dedup.byteLength };
    return table;
  }

  private restoreSnapshot(restored: CheckpointState): DedupTable {
    const o = this.options;
    const options = { capacity: o.dedupCapacity, windowMs: o.dedupWindowMs };
    const bytes = this.checkpointStore!.readDedup(restored);
    if (restored.dedup.format === 'entries') return DedupTable.fromEntries(bytes, options);
    let restoredTable: ReturnType<typeof DedupTable.restore>;
    try {
      restoredTable = DedupTable.restore(bytes.buffer as SharedArrayBuffer, options);
    } catch (err) {
      throw new CheckpointError(join(this.checkpointStore!.dir, restored.dedup.file), 'is not a dedup table this version of ordertail can read', { cause: err });
    }
    const { table, rehashed } = restoredTable;
    if (rehashed) this.emit('warning', `dedup capacity changed since the checkpoint (${restored.dedup.capacity} → ${table.capacity}): its entries were re-inserted`);
    return table;
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
    const journal = this.journal!;
    // A full snapshot at first and once the journal has grown past its limit
    // (restarts replay it); otherwise only the journal, which costs nothing on
    // the main thread (a full snapshot scans or copies the whole table).
    const full = this.dedupBase === undefined || journal.length > JOURNAL_LIMIT_ENTRIES;
    let writes: { base?: Uint8Array; journal?: Uint8Array };
    let base: NonNullable<typeof this.dedupBase>;
    if (full) {
      dedup.prepareSnapshot();
      const snapshot = this.dedupSnapshot(dedup);
      journal.reset();
      writes = { base: snapshot.bytes };
      base = { format: snapshot.format, file: '', byteLength: 0 };
    } else {
      // No key since the snapshot (the first commit, an idle stream): no journal
      // file, one file creation and fsync fewer.
      writes = { journal: journal.length > 0 ? journal.bytes() : undefined };
      base = this.dedupBase!;
    }
    this.dedupBase = undefined; // until this commit succeeds
    const state: CheckpointState = {
      generation: ++this.generation,
      writtenAtMs: Date.now(),
      sink: this.fileSink ? { kind: 'file', path: resolve(this.fileSink.path), committedBytes: this.fileSink.bytesWritten } : { kind: this.iterator ? 'iterator' : o.sink.kind === 'file' ? 'none' : o.sink.kind },
      deadLetter: this.deadLetter ? { kind: 'file', path: resolve(this.deadLetter.path), committedBytes: this.deadLetter.bytesWritten } : undefined,
      dedup: { ...base, windowMs: o.dedupWindowMs, capacity: dedup.capacity },
      files: this.pipeline!.checkpointFiles(),
    };
    const sink = this.sink!;
    const deadLetter = this.deadLetter;
    const committing = store
      .commit(state, writes, async () => {
        await sink.flush();
        await deadLetter?.flush();
      })
      .then(
        () => {
          const committed = store.lastCommitted!;
          this.dedupBase = { format: committed.dedup.format, file: committed.dedup.file, byteLength: committed.dedup.byteLength };
          this.checkpointsCommitted++;
          this.lastCheckpointAtMs = state.writtenAtMs;
        },
        (err: unknown) => {
          this.checkpointsFailed++;
          this.emit('warning', `checkpoint ${state.generation} not committed: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
    // The first commit (no earlier one to fall back on) is awaited too: output waits for it.
    if (this.finalCheckpoint || state.generation === 1) await committing;
  }

  /** The table's live entries while they fit in a quarter of its size, else its raw memory. */
  private dedupSnapshot(dedup: DedupTable): { format: 'raw' | 'entries'; bytes: Uint8Array } {
    const raw = dedup.sharedBuffer;
    // Reused between checkpoints; pages are touched only as far as entries fill it.
    this.entriesBuffer ??= new ArrayBuffer(Math.floor(raw.byteLength / 4 / 16) * 16);
    const into = { i32: new Int32Array(this.entriesBuffer), f64: new Float64Array(this.entriesBuffer) };
    const n = dedup.exportEntries(into);
    if (n < 0) return { format: 'raw', bytes: new Uint8Array(raw) };
    return { format: 'entries', bytes: new Uint8Array(this.entriesBuffer, 0, n * 16) };
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
    this.failure ??= error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error);
    this.resolveFinished();
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
      dedupOverflow: c.get('dedupOverflow'),
      eventTimeInvalid: c.get('eventTimeInvalid'),
      bytesRead: c.values[Counter.bytesRead]!,
      files: this.pipeline?.fileCount ?? 0,
      parser: this.parserName,
      shadow: { compared: c.get('shadowCompared'), mismatches: c.get('shadowMismatches') },
      dedup: { capacity: d?.capacity ?? 0, live: d?.live ?? 0, overflows: d?.overflows ?? 0, impl: this.dedupImpl },
      latency: this.latency.live.summary(),
      historyLatency: this.latency.history.summary(),
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
      dedup: { capacity: d?.capacity ?? 0, live: d?.live ?? 0, overflows: d?.overflows ?? 0 },
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
    if (threads < this.options.workers) reasons.push(`${threads} of ${this.options.workers} parse workers up`);
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

  /** Stop reading, drain in-flight ranges, flush sinks, stop workers. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    if (this.state !== 'running') return;
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
    if (this.checkpointStore && this.pipeline && !this.failure) {
      this.finalCheckpoint = true;
      await this.pipeline.requestCheckpoint();
      await this.checkpointStore.settled();
    }
    this.state = 'stopped';
    this.pool?.interruptWait();
    await this.pumping;
    await this.sink?.flush();
    await this.sink?.close();
    await this.deadLetter?.close();
    await this.pool?.close();
    this.pipeline?.close();
    this.resolveFinished();
  }
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
