import { AdaptiveTimeout } from './adaptive-timeout.js';
import { CircuitBreaker, type BreakerState } from './breaker.js';
import type { CollectorConfig, ExchangeSpec } from './config.js';
import { ChangeDetector } from './change-detector.js';
import { classifyError, errorSummary, httpStatusOf, type ErrorKind } from './error-class.js';
import { CollectorAbortedError, describeFailure } from './errors.js';
import { ExchangeClient, type ClientSettings } from './exchange-client.js';
import type { ConcurrencyLimiter } from './limiter.js';
import type { ExchangeMetrics } from './metrics.js';
import type { BatchWriter } from './output.js';
import { changeKey, encodeRecord, exchangeTime, fingerprint, recordId, type RecordType, type UnifiedEntry } from './records.js';
import { sleep, withRetry } from './retry.js';

/**
 * One exchange's poll loop. Each exchange runs its own loop on the shared tick
 * schedule (tick k at origin + k × interval), so a slow or dead exchange delays
 * only itself: nothing waits for "all exchanges" before writing. Within a
 * cycle, funding and tickers are requested at once and each answer is written
 * as soon as it is shaped. Funding goes first because ccxt's rate limiter
 * charges binance's all-symbol ticker call 16× a funding call: in that order
 * the cheap call is not queued behind the expensive one.
 */
export type Operation = 'markets' | RecordType;
export type CycleOutcome = 'ok' | 'partial' | 'failed' | 'skipped';

export interface OperationFailure {
  operation: Operation;
  /** ccxt error class (RequestTimeout, RateLimitExceeded, BadResponse, …). */
  errorClass: string;
  kind: ErrorKind;
  attempts: number;
  /** When the exchange answered: its HTTP status. */
  httpStatus?: number;
  message: string;
}

export interface CycleReport {
  exchange: string;
  /** 1-based count of this exchange's cycles. */
  cycle: number;
  /** Tick index on the shared schedule (equal across exchanges for the same tick). */
  tick: number;
  /** Scheduled start, performance.now() timeline. */
  scheduledAt: number;
  startedAt: number;
  finishedAt: number;
  /** startedAt → last record written (or the last failure). */
  durationMs: number;
  outcome: CycleOutcome;
  snapshot: boolean;
  emitted: Record<RecordType, number>;
  suppressed: Record<RecordType, number>;
  failures: OperationFailure[];
  breaker: BreakerState;
}

export interface BreakerChange {
  exchange: string;
  from: BreakerState;
  to: BreakerState;
  /** The failure that tipped it (when it opened because of one): `operation ErrorClass: message`. */
  cause?: string;
}

export interface PollerDeps {
  limiter: ConcurrencyLimiter;
  writer: BatchWriter;
  metrics: ExchangeMetrics;
  signal: AbortSignal;
  warn(message: string): void;
  breakerChanged(change: BreakerChange): void;
  env?: Readonly<Record<string, string | undefined>>;
  random?: () => number;
}

type CallResult<T> = { status: 'ok'; value: T } | { status: 'failed'; failure: OperationFailure } | { status: 'refused' };

export class ExchangePoller {
  readonly name: string;
  readonly client: ExchangeClient;
  readonly breaker: CircuitBreaker;
  readonly timeout: AdaptiveTimeout;
  cycles = 0;
  private marketsAt = -Infinity;
  private refreshing: Promise<void> | undefined;
  private readonly detectors: Record<RecordType, ChangeDetector> = { ticker: new ChangeDetector(), funding: new ChangeDetector() };

  /** The last failed operation: the cause a breaker change reports. */
  private lastFailure: OperationFailure | undefined;

  constructor(
    spec: ExchangeSpec,
    private readonly config: CollectorConfig,
    private readonly deps: PollerDeps,
  ) {
    this.name = spec.name;
    const m = deps.metrics;
    this.timeout = new AdaptiveTimeout(config.timeout);
    m.timeout(this.timeout.currentMs);
    this.breaker = new CircuitBreaker(config.breaker, (from, to) => {
      m.breaker(to);
      deps.breakerChanged({ exchange: this.name, from, to, ...(to === 'open' && this.lastFailure ? { cause: describeFailure(this.lastFailure) } : {}) });
    });
    const settings: ClientSettings = {
      marketTypes: config.marketTypes,
      symbols: config.symbols,
      rateLimit: config.rateLimit,
      timeoutMs: this.timeout.currentMs,
      ...(deps.env ? { env: deps.env } : {}),
    };
    this.client = new ExchangeClient(spec, settings, {
      acquire: () => deps.limiter.acquire(deps.signal),
      observe: (ms) => {
        this.timeout.observe(ms);
        m.httpLatency(ms);
        m.timeout(this.timeout.currentMs);
      },
      // ccxt's timer covers the wait for headers; allow the body as long again.
      deadlineMs: () => 2 * this.timeout.currentMs,
    });
  }

  /** Run cycles on the shared schedule until the signal aborts. */
  async loop(origin: number, onCycle: (report: CycleReport) => void): Promise<void> {
    const interval = this.config.intervalMs;
    let tick = 0;
    while (!this.deps.signal.aborted) {
      const due = origin + tick * interval;
      const wait = due - performance.now();
      if (wait > 0) {
        try {
          await sleep(wait, this.deps.signal);
        } catch {
          return;
        }
      }
      onCycle(await this.runCycle(due, tick));
      // Overran? Skip the ticks already missed rather than bursting to catch up.
      tick = Math.max(tick + 1, Math.ceil((performance.now() - origin) / interval));
    }
  }

  /** One cycle: markets if needed, then funding and tickers concurrently. */
  async runCycle(scheduledAt = performance.now(), tick = 0): Promise<CycleReport> {
    const startedAt = performance.now();
    const cycle = ++this.cycles;
    const snapshot = cycle % this.config.snapshotEvery === 0;
    const report: CycleReport = {
      exchange: this.name, cycle, tick, scheduledAt, startedAt, finishedAt: startedAt, durationMs: 0, outcome: 'ok', snapshot,
      emitted: { ticker: 0, funding: 0 }, suppressed: { ticker: 0, funding: 0 }, failures: [], breaker: this.breaker.state,
    };
    const finish = (outcome: CycleOutcome): CycleReport => {
      report.finishedAt = performance.now();
      report.durationMs = report.finishedAt - startedAt;
      report.outcome = outcome;
      report.breaker = this.breaker.state;
      this.deps.metrics.cycle(outcome, report.durationMs);
      return report;
    };

    if (!this.client.ready) {
      const loaded = await this.loadMarkets();
      if (loaded.status === 'refused') return finish('skipped');
      if (loaded.status === 'failed') {
        report.failures.push(loaded.failure);
        return finish('failed');
      }
    } else if (startedAt - this.marketsAt >= this.config.marketsRefreshMs && this.refreshing === undefined) {
      // Refresh in the background: this cycle polls with the markets it has.
      this.refreshing = this.loadMarkets().then((r) => {
        if (r.status === 'failed') this.deps.warn(`${this.name}: markets refresh failed (${r.failure.errorClass}); keeping the previous markets`);
        this.refreshing = undefined;
      });
    }

    const calls: Promise<CallResult<number>>[] = [];
    if (this.client.hasFunding) calls.push(this.collect('funding', () => this.client.fetchFundingRates(), snapshot, report));
    calls.push(this.collect('ticker', () => this.client.fetchTickers(), snapshot, report));
    const results = await Promise.all(calls);
    let ok = 0;
    let refused = 0;
    for (const r of results) {
      if (r.status === 'ok') ok++;
      else if (r.status === 'refused') refused++;
      else report.failures.push(r.failure);
    }
    return finish(ok === results.length ? 'ok' : ok > 0 ? 'partial' : refused === results.length ? 'skipped' : 'failed');
  }

  private async loadMarkets(): Promise<CallResult<string[]>> {
    const r = await this.call('markets', () => this.client.loadMarkets());
    if (r.status === 'ok') {
      this.marketsAt = performance.now();
      if (r.value.length > 0) this.deps.warn(`${this.name}: not listed as a ${this.config.marketTypes.join('/')} market: ${r.value.join(', ')}`);
    }
    return r;
  }

  /** Fetch one stream, write what changed; resolves with the number of records written. */
  private async collect(
    type: RecordType,
    fetch: () => Promise<UnifiedEntry[]>,
    snapshot: boolean,
    report: CycleReport,
  ): Promise<CallResult<number>> {
    const r = await this.call(type, fetch);
    if (r.status !== 'ok') return r;
    const collectedAt = Date.now();
    const fields = this.config.changeFields[type];
    const detector = this.detectors[type];
    detector.begin();
    let text = '';
    let emitted = 0;
    for (const entry of r.value) {
      const symbol = entry.symbol!;
      const values = changeKey(entry, fields);
      const verdict = detector.observe(symbol, values, collectedAt, snapshot);
      if (!verdict.emit) continue;
      const id = recordId(this.name, type, symbol, exchangeTime(entry) ?? verdict.since, fingerprint(values));
      text += encodeRecord(type, this.name, symbol, collectedAt, id, entry) + '\n';
      emitted++;
    }
    const gone = detector.sweep();
    if (gone.length > 0) {
      this.deps.metrics.dropped(type, gone.length);
      this.deps.warn(`${this.name}: no ${type} for ${gone.join(', ')} any more (delisted or not reported)`);
    }
    if (text.length > 0) await this.deps.writer.push(text);
    const suppressed = r.value.length - emitted;
    this.deps.metrics.records(type, emitted, suppressed);
    report.emitted[type] += emitted;
    report.suppressed[type] += suppressed;
    return { status: 'ok', value: emitted };
  }

  /** Breaker gate → retries (temporary errors only) → breaker outcome, with metrics. */
  private async call<T>(operation: Operation, fn: () => Promise<T>): Promise<CallResult<T>> {
    if (!this.breaker.tryAcquire()) return { status: 'refused' };
    const m = this.deps.metrics;
    let attempts = 0;
    try {
      const value = await withRetry(
        async (attempt) => {
          attempts = attempt;
          this.client.setTimeout(this.timeout.currentMs);
          m.request(operation);
          try {
            return await fn();
          } catch (err) {
            if (err instanceof CollectorAbortedError) throw err;
            const c = classifyError(err);
            m.error(operation, c.name, httpStatusOf(err));
            if (c.name === 'RequestTimeout') {
              this.timeout.onTimeout();
              m.timeout(this.timeout.currentMs);
            }
            throw err;
          }
        },
        this.config.retry,
        {
          retryable: (err) => !(err instanceof CollectorAbortedError) && classifyError(err).kind === 'temporary',
          onRetry: (err) => m.retry(classifyError(err).name),
          signal: this.deps.signal,
          // Another call of this exchange opened the breaker: stop hammering it.
          mayRetry: () => this.breaker.state !== 'open',
          ...(this.deps.random ? { random: this.deps.random } : {}),
        },
      );
      this.breaker.onSuccess();
      return { status: 'ok', value };
    } catch (err) {
      if (err instanceof CollectorAbortedError) {
        // Stopping before the request went out: neither success nor failure.
        this.breaker.release();
        return { status: 'refused' };
      }
      const c = classifyError(err);
      const status = httpStatusOf(err);
      const failure: OperationFailure = { operation, errorClass: c.name, kind: c.kind, attempts, ...(status === undefined ? {} : { httpStatus: status }), message: errorSummary(err) };
      // Before onFailure(): the breaker opening names it as its cause.
      this.lastFailure = failure;
      this.breaker.onFailure();
      return { status: 'failed', failure };
    }
  }

  /** Settles when a background markets refresh (if any) is done. */
  async settled(): Promise<void> {
    await this.refreshing;
  }
}
