import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import type { BreakerState } from './breaker.js';
import type { CollectorConfig } from './config.js';
import { CollectorStoppedError, describeFailure } from './errors.js';
import { ConcurrencyLimiter } from './limiter.js';
import { CollectorMetrics } from './metrics.js';
import { BatchWriter, type WriteFn } from './output.js';
import { ExchangePoller, type BreakerChange, type CycleReport } from './poller.js';
import { sleep } from './retry.js';

/**
 * The exchange collector: polls every configured exchange on its own loop and
 * writes changed tickers and funding rates as NDJSON batches to `write`.
 *
 *   const collector = new Collector(resolveCollectorConfig(raw), { write: (c) => sink.write(c), registry });
 *   collector.on('warning', console.warn);
 *   await collector.start();
 *   …
 *   await collector.stop();   // in-flight requests finish or time out; everything is written
 */
export interface CollectorOptions {
  /** Receives complete NDJSON lines; same contract as the engine's Sink.write. */
  write: WriteFn;
  /** prom-client registry for the metrics (share the engine's); default: a new one. */
  registry?: Registry;
  /** Where API keys are read from (ORDERTAIL_<NAME>_API_KEY …); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Jitter source for retry backoff (tests pin it); default Math.random. */
  random?: () => number;
}

export interface CollectorEventMap {
  /** One exchange finished a cycle. */
  cycle: [report: CycleReport];
  breaker: [change: BreakerChange];
  warning: [message: string];
  /** The sink failed; the collector has stopped polling. */
  error: [error: Error];
}

export interface ExchangeStats {
  name: string;
  id: string;
  breaker: BreakerState;
  timeoutMs: number;
  latencyMs: number | undefined;
  cycles: number;
  symbols: number;
}

export interface CollectorStats {
  exchanges: ExchangeStats[];
  inFlight: number;
  bytesWritten: number;
  batchesWritten: number;
  /** Batches dropped because their request outlived the shutdown deadline. */
  batchesLate: number;
}

export class Collector extends EventEmitter<CollectorEventMap> {
  readonly registry: Registry;
  readonly metrics: CollectorMetrics;
  private readonly limiter: ConcurrencyLimiter;
  private readonly writer: BatchWriter;
  private readonly abort = new AbortController();
  private readonly pollers: ExchangePoller[] = [];
  private loops: Promise<void>[] = [];
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  /** After stop(): whether every in-flight request settled before the shutdown deadline. */
  drained = false;

  constructor(
    readonly config: CollectorConfig,
    private readonly options: CollectorOptions,
  ) {
    super();
    this.registry = options.registry ?? new Registry();
    this.limiter = new ConcurrencyLimiter(config.concurrency);
    this.metrics = new CollectorMetrics(this.registry, () => this.limiter.inFlight);
    this.writer = new BatchWriter(options.write);
    // Building the ccxt instances validates the exchange ids (ConfigError) before anything runs.
    for (const spec of config.exchanges) {
      this.pollers.push(
        new ExchangePoller(spec, config, {
          limiter: this.limiter,
          writer: this.writer,
          metrics: this.metrics.forExchange(spec.name),
          signal: this.abort.signal,
          warn: (m) => this.emit('warning', m),
          breakerChanged: (change) => {
            this.emit('breaker', change);
            if (change.to !== 'half-open') this.emit('warning', `${change.exchange}: circuit breaker ${change.from} → ${change.to}${change.cause ? ` (last failure: ${change.cause})` : ''}`);
          },
          ...(options.env ? { env: options.env } : {}),
          ...(options.random ? { random: options.random } : {}),
        }),
      );
    }
  }

  /** Exchange names, in config order. */
  get exchanges(): string[] {
    return this.pollers.map((p) => p.name);
  }

  /** Start every exchange's loop on one shared schedule; returns at once. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new CollectorStoppedError(`start() called on a ${this.state} collector`);
    this.state = 'running';
    const origin = performance.now();
    this.loops = this.pollers.map((p) => p.loop(origin, (r) => this.report(r)).catch((err: unknown) => this.fail(err)));
  }

  /**
   * One cycle of every exchange, concurrently, without the loops (tests,
   * benchmarks, cron-style use). Resolves with each exchange's report. Not
   * with start(): two cycles of one exchange at once would race on its state.
   */
  async pollOnce(): Promise<CycleReport[]> {
    if (this.state !== 'new') throw new CollectorStoppedError(`pollOnce() called on a ${this.state} collector (use either start() or pollOnce())`);
    const at = performance.now();
    const reports = await Promise.all(this.pollers.map((p) => p.runCycle(at)));
    for (const r of reports) this.report(r);
    return reports;
  }

  /** Failures a warning has named, per exchange: a failure that repeats every cycle is logged once, until it changes or clears. */
  private readonly logged = new Map<string, string>();

  private report(r: CycleReport): void {
    this.emit('cycle', r);
    if (r.outcome === 'ok') this.logged.delete(r.exchange);
    // Skipped cycles (breaker open) have no failure of their own.
    if (r.failures.length === 0) return;
    const key = r.failures.map((f) => `${f.operation} ${f.errorClass} ${f.message}`).join('\n');
    if (this.logged.get(r.exchange) === key) return;
    this.logged.set(r.exchange, key);
    this.emit('warning', `${r.exchange}: cycle ${r.cycle} ${r.outcome}: ${r.failures.map(describeFailure).join('; ')}`);
  }

  stats(): CollectorStats {
    return {
      exchanges: this.pollers.map((p) => ({
        name: p.name,
        id: p.client.spec.id,
        breaker: p.breaker.state,
        timeoutMs: p.timeout.currentMs,
        latencyMs: p.timeout.smoothedMs,
        cycles: p.cycles,
        symbols: p.client.symbols.size,
      })),
      inFlight: this.limiter.inFlight,
      bytesWritten: this.writer.bytes,
      batchesWritten: this.writer.batches,
      batchesLate: this.writer.late,
    };
  }

  /**
   * Stop polling: no new cycles, no new retries, queued requests dropped;
   * requests already sent finish or time out and their records are written.
   * Waits at most `shutdownTimeout`. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.abort.abort();
    const drained = Promise.all([...this.loops, ...this.pollers.map((p) => p.settled())]).then(() => this.writer.idle());
    const deadline = new AbortController();
    const late = sleep(this.config.shutdownTimeoutMs, deadline.signal).then(
      () => true,
      () => false,
    );
    const timedOut = await Promise.race([drained.then(() => false), late]);
    deadline.abort();
    if (timedOut) this.emit('warning', `requests still in flight after ${this.config.shutdownTimeoutMs} ms; stopping without them`);
    this.writer.close();
    this.state = 'stopped';
    this.drained = !timedOut;
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.abort.abort();
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error);
  }
}
