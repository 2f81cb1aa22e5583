/*
 * The PostgreSQL sink: records accumulate as staging rows (rows.ts) between
 * commits; each commit writes them and the engine's input offsets in one
 * transaction (batch-writer.ts). A commit is asked for when a batch is full
 * or its first row has waited DEFAULT_LINGER_MS, and it starts at the
 * engine's next checkpoint point; the engine stages the next batch while it
 * is written. With `connections=2` (the default) two commits may be under
 * way at once, one per connection: batch N+1's rows go in while N's
 * transaction finishes, and its offsets wait for N's (batch-writer.ts), so
 * they land in order. While the database is down the commits wait and
 * reconnect (connection.ts): the next commit point waits for the oldest, and
 * write() waits once MAX_PENDING_BYTES are staged, so the engine's emission,
 * and behind it its readers, wait too. What is buffered is bounded, and
 * nothing is dropped.
 *
 * Client: `pg` with `pg-copy-streams`, chosen over `postgres` by
 * bench/postgres-sink.ts (the same COPY rows faster in every round; figures
 * in bench/RESULTS.md); pg also reads pgpass files and libpq's TLS parameters
 * itself, where `postgres` has no pgpass support.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { CheckpointedFile } from '../../checkpoint/manifest.js';
import { EngineError } from '../../config/errors.js';
import { OrdertailError } from '../../errors.js';
import type { TransactionalSink } from '../transactional.js';
import type { BatchWriter } from './batch-writer.js';
import type { PostgresSinkConfig } from '../../config/postgres-sink.js';
import type { PgConnection } from './connection.js';
import { PostgresSinkMetrics, type PostgresSinkStats } from './metrics.js';
import { RowBatch, RowEncoder } from './rows.js';

export interface PostgresSinkOptions {
  readonly dedupKey: readonly string[];
  readonly eventTimeField: string;
  readonly maxRecordBytes: number;
  /** The engine's input globs: the default consumer name is derived from them. */
  readonly input: readonly string[];
  readonly warn: (message: string) => void;
  readonly info: (message: string) => void;
  /** A row the database refused, with its message (the engine's dead-letter file). */
  readonly deadLetter?: ((entry: { file: string; offset: number; reason: string; sample: string; error: string }) => void) | undefined;
}

/** Rows of the first commit wait this long at most before one is asked for (follow mode's latency). */
const DEFAULT_LINGER_MS = 50;
/** Staged bytes beyond which write() waits for the commit under way (the database is slow or away). */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
const SAMPLE_CHARS = 256;

/** sha256 of the sorted, resolved input globs and the table: the same inputs into the same table resume the same offsets. */
export function defaultConsumer(input: readonly string[], table: string): string {
  return createHash('sha256').update(JSON.stringify([input.map((g) => resolve(g)).sort(), table])).digest('hex').slice(0, 16);
}

/**
 * Connection-level failures a reconnect fixes: a socket errno, a connection or
 * shutdown SQLSTATE class, or the client's own "connection ended" errors.
 * Anything else (our own errors, a missing table) is not retried.
 */
function isRetryable(err: unknown): boolean {
  if (err instanceof OrdertailError || !(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code)) return ['08', '57', '53', '40'].includes(code.slice(0, 2)) || code === '55P03';
  if (typeof code === 'string') return code.startsWith('E');
  return /connection|terminated|timeout|closed|ended/i.test(err.message);
}

/** A commit under way. Neither promise rejects (a failure is kept in the sink's `failure`). */
interface InFlight {
  /** Landed (or failed for good). */
  readonly done: Promise<void>;
  readonly rows: number;
  /** Its transaction holds its advisory lock (or it is done): the next commit may wait on that lock now. */
  readonly started: Promise<void>;
}

export class PostgresSink implements TransactionalSink {
  readonly transactional = true as const;
  readonly name: string;
  onCommitWanted: (() => void) | undefined;
  readonly metrics = new PostgresSinkMetrics();
  private readonly encoder: RowEncoder;
  /** Made by open(): pg and pg-copy-streams load only when this sink is used. One commit at a time on each; the first also serves open() and seedKeys(). */
  private lanes: PgConnection[] = [];
  private readOffsets: typeof import('./batch-writer.js').readOffsets | undefined;
  private readonly consumer: string;
  private writer: BatchWriter | undefined;
  private pending = new RowBatch();
  /** Batches back from a landed commit, to be filled again. */
  private readonly free: RowBatch[] = [];
  private generation = 0;
  /** The last generation known to be in the database (for messages). */
  private landed = 0;
  private lastFiles = '';
  private asked = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Commits under way, oldest first (at most one per connection). */
  private readonly inflight: InFlight[] = [];
  /** A connection is down: one warning for the outage, whichever connection saw it first. */
  private down = false;
  /** A commit failed for a reason no retry fixes: the sink takes nothing more. */
  private failure: EngineError | undefined;
  private qualified = '';

  constructor(
    readonly config: PostgresSinkConfig,
    private readonly options: PostgresSinkOptions,
  ) {
    this.name = `postgres:${config.schema}.${config.table}`;
    this.consumer = config.consumer ?? defaultConsumer(options.input, `${config.schema}.${config.table}`);
    // With a rollup every batch takes the staging path (batch-writer.ts): no direct rows to write.
    const columns = config.rollup ? undefined : config.columns;
    this.encoder = new RowEncoder({ dedupKey: options.dedupKey, eventTimeField: options.eventTimeField, maxRecordBytes: options.maxRecordBytes, columns });
    this.metrics.reconnects = () => this.lanes.reduce((n, lane) => n + lane.reconnects, 0);
  }

  /** Serve the sink's metrics from the engine's registry. */
  async registerMetrics(registry: Registry): Promise<void> {
    const { registerPostgresMetrics } = await import('./metrics-export.js');
    registerPostgresMetrics(registry, this.metrics);
  }

  stats(): PostgresSinkStats {
    return this.metrics.stats();
  }

  async open(): Promise<CheckpointedFile[] | undefined> {
    const [{ PgConnection }, { BatchWriter, readOffsets }, { ensureTables }, { RollupSql }] = await Promise.all([
      import('./connection.js'),
      import('./batch-writer.js'),
      import('./schema.js'),
      import('./rollup.js'),
    ]);
    const options = this.options;
    const events = {
      down: (message: string): void => {
        if (this.down) return;
        this.down = true;
        options.warn(`${this.name}: database unavailable (${message}); holding records and retrying`);
      },
      up: (ms: number): void => {
        for (const lane of this.lanes) lane.reconnectIdle();
        if (!this.down) return;
        this.down = false;
        options.info(`${this.name}: database reachable again after ${Math.round(ms)} ms`);
      },
    };
    this.lanes = Array.from({ length: this.config.connections }, () => new PgConnection(this.config.connectionString, this.config.display, events));
    this.readOffsets = readOffsets;
    const connection = this.lanes[0]!;
    for (;;) {
      const client = await connection.get();
      try {
        const layout = await ensureTables(client, this.config);
        this.qualified = layout.qualified;
        const rollup = this.config.rollup ? new RollupSql(this.config, this.config.rollup) : undefined;
        await rollup?.ensureTable(client);
        this.writer = new BatchWriter(this.config, layout.qualified, rollup);
        const offsets = await readOffsets(client, this.config.schema, this.consumer);
        this.options.info(
          `${this.name}: ${layout.hypertable ? 'TimescaleDB hypertable' : 'table'} ready${rollup ? `, rollup ${rollup.qualified} (${rollup.width.bucket} buckets)` : ''}, consumer ${this.consumer}` +
            (offsets ? `, resuming from the database's offsets (generation ${offsets.generation})` : ', no offsets committed yet'),
        );
        if (!offsets) return undefined;
        this.generation = offsets.generation;
        this.landed = offsets.generation;
        this.lastFiles = JSON.stringify(offsets.files);
        return offsets.files as CheckpointedFile[];
      } catch (err) {
        if (!isRetryable(err)) throw err;
        connection.failed(err);
      }
    }
  }

  write(chunk: Uint8Array): true | Promise<void> {
    this.encoder.encode(chunk, this.pending, Date.now());
    if (this.pending.rows === 0) return true;
    if (!this.asked) {
      if (this.pending.rows >= this.config.batchRows) this.askForCommit();
      else this.lingerTimer ??= setTimeout(() => this.askForCommit(), DEFAULT_LINGER_MS);
    }
    // Only a commit under way can be waited for here: the next one starts at
    // a commit point, which the engine reaches only after this write.
    if (this.inflight.length > 0 && this.pending.bytes >= MAX_PENDING_BYTES) return this.inflight[0]!.done;
    return true;
  }

  private askForCommit(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.asked) return;
    this.asked = true;
    this.onCommitWanted?.();
  }

  async seedKeys(windowMs: number, limit: number, insert: (hashLo: number, hashHi: number, times: Float64Array, index: number) => void): Promise<number> {
    const connection = this.lanes[0]!;
    for (;;) {
      const client = await connection.get();
      try {
        const { rows } = await client.query<{ hi: number; lo: string; ms: number }>(
          `SELECT (key_hash >> 32)::integer AS hi, (key_hash & 4294967295)::text AS lo, extract(epoch FROM event_time)::float8 * 1000 AS ms
             FROM ${this.qualified}
            WHERE key_hash IS NOT NULL AND event_time >= (SELECT max(event_time) FROM ${this.qualified}) - $1 * interval '1 millisecond'
            ORDER BY event_time DESC LIMIT $2`,
          [windowMs, limit],
        );
        const times = new Float64Array(1);
        for (const r of rows) {
          times[0] = r.ms;
          insert(Number(r.lo) | 0, r.hi, times, 0);
        }
        return rows.length;
      } catch (err) {
        if (!isRetryable(err)) throw err;
        connection.failed(err);
      }
    }
  }

  async commitWith(files: CheckpointedFile[]): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.asked = false;
    // At most one commit per connection: waiting here for the oldest is what
    // holds the engine still while the database is slow or away.
    while (this.inflight.length >= this.lanes.length) await this.inflight[0]!.done;
    if (this.failure) throw this.failure;
    const filesJson = JSON.stringify(files);
    if (this.pending.rows === 0 && filesJson === this.lastFiles) return;
    const batch = this.pending;
    this.pending = this.free.pop() ?? new RowBatch();
    const generation = ++this.generation;
    this.lastFiles = filesJson;
    const previous = this.inflight.at(-1);
    let started!: () => void;
    const startedPromise = new Promise<void>((resolve) => (started = resolve));
    // Written while the engine goes on reading and staging the next batch.
    const done = this.commitBatch(batch, files, generation, previous, started).then(
      () => {
        this.landed = Math.max(this.landed, generation);
        batch.clear();
        this.free.push(batch);
      },
      (err: unknown) => {
        this.failure ??= err instanceof EngineError ? err : new EngineError('ORDERTAIL_SINK', `${this.name}: commit failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        // The engine hears of it at its next commit point: ask for one now.
        this.onCommitWanted?.();
      },
    );
    const entry: InFlight = { done, rows: batch.rows, started: Promise.race([startedPromise, done]) };
    this.inflight.push(entry);
    void done.finally(() => this.inflight.splice(this.inflight.indexOf(entry), 1));
  }

  /**
   * Rows and offsets of `batch` in one transaction, retried across reconnects
   * until it lands. `previous`: the commit before it, when still under way
   * on the other connection; this one lands only after it.
   */
  private async commitBatch(batch: RowBatch, files: CheckpointedFile[], generation: number, previous: InFlight | undefined, started: () => void): Promise<void> {
    const connection = this.lanes[generation % this.lanes.length]!;
    let after = previous?.started;
    for (;;) {
      const client = await connection.get();
      const t0 = performance.now();
      try {
        const order = this.lanes.length > 1 ? { previous: after, started } : undefined;
        const result = await this.writer!.commit(client, batch, this.consumer, generation, files, order);
        if (result === 'behind') {
          // The previous commit rolled back (it is being retried), or it created the offsets row: wait until it has landed.
          await previous!.done;
          if (this.failure) throw this.failure;
          after = undefined;
          continue;
        }
        this.metrics.commitMicros.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        this.metrics.batches++;
        if (!result.direct && batch.rows > 0) this.metrics.stagedBatches++;
        this.metrics.rowsWritten += result.inserted;
        this.metrics.conflicts += result.conflicts;
        this.metrics.rejected += result.rejected.length;
        for (const r of result.rejected) this.deadLetter(batch, r.row, r.message);
        return;
      } catch (err) {
        if (!isRetryable(err)) throw err;
        connection.failed(err);
        // The COMMIT may have gone through with only its answer lost: the offsets say.
        if (await this.committedAlready(connection, generation)) return;
      }
    }
  }

  /** Whether the offsets show `generation` (or a later one, which lands only after it) committed. */
  private async committedAlready(connection: PgConnection, generation: number): Promise<boolean> {
    for (;;) {
      const client = await connection.get();
      try {
        return ((await this.readOffsets!(client, this.config.schema, this.consumer))?.generation ?? 0) >= generation;
      } catch (err) {
        if (!isRetryable(err)) throw err;
        connection.failed(err);
      }
    }
  }

  private deadLetter(batch: RowBatch, row: number, message: string): void {
    const sample = batch.record(row).slice(0, SAMPLE_CHARS);
    this.options.info(`${this.name}: the database refused a record (${message}); dead-lettered`);
    this.options.deadLetter?.({ file: this.name, offset: -1, reason: 'database_rejected', sample, error: message });
  }

  notReadyReason(): string | undefined {
    return this.failure?.message ?? this.lanes.find((lane) => lane.outage !== undefined)?.outage;
  }

  abandon(why: string): EngineError | undefined {
    if (this.inflight.length === 0 && this.pending.rows === 0) return undefined;
    const rows = this.inflight.reduce((n, c) => n + c.rows, this.pending.rows);
    this.failure ??= new EngineError(
      'ORDERTAIL_SINK',
      `${this.name}: stopped while ${why}: ${rows} record(s) not committed (${this.inflight.length} commit(s) under way abandoned); ` +
        `the database's offsets stay at generation ${this.landed}, so a restart reads them again`,
    );
    // Commits waiting for a connection fail at once (not retried), which ends their loops.
    for (const lane of this.lanes) void lane.close();
    return this.failure;
  }

  /** Waits for the commits under way (rows are made durable only by commitWith, at the engine's checkpoint points). */
  async flush(): Promise<void> {
    await Promise.all(this.inflight.map((c) => c.done));
    if (this.failure) throw this.failure;
  }

  /** A commit still waiting for the database is abandoned (its rows are read again after a restart). */
  async close(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    await Promise.all(this.lanes.map((lane) => lane.close()));
    await Promise.all(this.inflight.map((c) => c.done));
  }

  /** For messages: the table written to. */
  get table(): string {
    return this.qualified;
  }
}
