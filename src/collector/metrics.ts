import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, type BreakerState } from './breaker.js';
import type { RecordType } from './records.js';

/**
 * Collector metrics on a caller's prom-client Registry (the engine's, when the
 * collector runs inside `run`), all prefixed `ordertail_collector_` and
 * labelled by exchange:
 *
 *   requests_total{exchange,operation}        ccxt calls made (each retry counts)
 *   errors_total{exchange,operation,class}    failed calls by ccxt error class
 *   http_errors_total{exchange,operation,status}  failed calls the exchange answered, by HTTP status
 *   retries_total{exchange,class}             retries, by the class that caused them
 *   request_duration_seconds{exchange}        HTTP latency histogram
 *   timeout_seconds{exchange}                 current adaptive timeout
 *   breaker_state{exchange}                   0 closed, 1 open, 2 half-open
 *   breaker_transitions_total{exchange,to}
 *   records_emitted_total{exchange,type}
 *   records_suppressed_total{exchange,type}   unchanged since last sent
 *   symbols_dropped_total{exchange,type}      symbols that vanished from an answer
 *   cycle_duration_seconds{exchange}          cycle start → last record written
 *   cycles_total{exchange,outcome}            ok | partial | failed | skipped
 *   inflight_requests                         HTTP requests in flight (all exchanges)
 *
 * Label children are bound once per exchange, so the per-call cost is an
 * increment, not a label lookup.
 */
export const METRIC_PREFIX = 'ordertail_collector_';

type Operation = 'markets' | 'ticker' | 'funding';

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  // A registry shared with an earlier collector in the same process (tests,
  // restart in place) already has these metrics; registering twice throws.
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export class CollectorMetrics {
  readonly requests: Counter<'exchange' | 'operation'>;
  readonly errors: Counter<'exchange' | 'operation' | 'class'>;
  readonly httpErrors: Counter<'exchange' | 'operation' | 'status'>;
  readonly retries: Counter<'exchange' | 'class'>;
  readonly latency: Histogram<'exchange'>;
  readonly timeout: Gauge<'exchange'>;
  readonly breakerState: Gauge<'exchange'>;
  readonly breakerTransitions: Counter<'exchange' | 'to'>;
  readonly emitted: Counter<'exchange' | 'type'>;
  readonly suppressed: Counter<'exchange' | 'type'>;
  readonly dropped: Counter<'exchange' | 'type'>;
  readonly cycleDuration: Histogram<'exchange'>;
  readonly cycles: Counter<'exchange' | 'outcome'>;
  readonly inflight: Gauge;

  constructor(
    readonly registry: Registry,
    inflight: () => number,
  ) {
    const p = METRIC_PREFIX;
    const registers = [registry];
    this.requests = reuse(registry, `${p}requests_total`, () => new Counter({ name: `${p}requests_total`, help: 'ccxt calls made, each retry included', labelNames: ['exchange', 'operation'], registers }));
    this.errors = reuse(registry, `${p}errors_total`, () => new Counter({ name: `${p}errors_total`, help: 'failed ccxt calls by error class', labelNames: ['exchange', 'operation', 'class'], registers }));
    this.httpErrors = reuse(registry, `${p}http_errors_total`, () => new Counter({ name: `${p}http_errors_total`, help: 'failed ccxt calls the exchange answered, by HTTP status', labelNames: ['exchange', 'operation', 'status'], registers }));
    this.retries = reuse(registry, `${p}retries_total`, () => new Counter({ name: `${p}retries_total`, help: 'retries by the error class that caused them', labelNames: ['exchange', 'class'], registers }));
    this.latency = reuse(registry, `${p}request_duration_seconds`, () => new Histogram({ name: `${p}request_duration_seconds`, help: 'HTTP request latency', labelNames: ['exchange'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }));
    this.timeout = reuse(registry, `${p}timeout_seconds`, () => new Gauge({ name: `${p}timeout_seconds`, help: 'current adaptive request timeout', labelNames: ['exchange'], registers }));
    this.breakerState = reuse(registry, `${p}breaker_state`, () => new Gauge({ name: `${p}breaker_state`, help: 'circuit breaker: 0 closed, 1 open, 2 half-open', labelNames: ['exchange'], registers }));
    this.breakerTransitions = reuse(registry, `${p}breaker_transitions_total`, () => new Counter({ name: `${p}breaker_transitions_total`, help: 'breaker state changes by new state', labelNames: ['exchange', 'to'], registers }));
    this.emitted = reuse(registry, `${p}records_emitted_total`, () => new Counter({ name: `${p}records_emitted_total`, help: 'records written', labelNames: ['exchange', 'type'], registers }));
    this.suppressed = reuse(registry, `${p}records_suppressed_total`, () => new Counter({ name: `${p}records_suppressed_total`, help: 'records not written: unchanged since last sent', labelNames: ['exchange', 'type'], registers }));
    this.dropped = reuse(registry, `${p}symbols_dropped_total`, () => new Counter({ name: `${p}symbols_dropped_total`, help: 'symbols that vanished from an exchange answer', labelNames: ['exchange', 'type'], registers }));
    this.cycleDuration = reuse(registry, `${p}cycle_duration_seconds`, () => new Histogram({ name: `${p}cycle_duration_seconds`, help: 'cycle start to last record written', labelNames: ['exchange'], buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }));
    this.cycles = reuse(registry, `${p}cycles_total`, () => new Counter({ name: `${p}cycles_total`, help: 'cycles by outcome', labelNames: ['exchange', 'outcome'], registers }));
    this.inflight = reuse(registry, `${p}inflight_requests`, () => new Gauge({ name: `${p}inflight_requests`, help: 'HTTP requests in flight, all exchanges', registers }));
    // Read when scraped, not pushed per request.
    const gauge = this.inflight as Gauge & { collect?: () => void };
    gauge.collect = () => gauge.set(inflight());
  }

  forExchange(exchange: string): ExchangeMetrics {
    return new ExchangeMetrics(this, exchange);
  }
}

/** The metrics of one exchange, label children bound up front. */
export class ExchangeMetrics {
  private readonly requests: Record<Operation, Counter.Internal>;
  private readonly emitted: Record<RecordType, Counter.Internal>;
  private readonly suppressed: Record<RecordType, Counter.Internal>;
  private readonly latency: Histogram.Internal<'exchange'>;
  private readonly cycleDuration: Histogram.Internal<'exchange'>;
  private readonly timeoutGauge: Gauge.Internal<'exchange'>;
  private readonly breakerGauge: Gauge.Internal<'exchange'>;

  constructor(
    private readonly all: CollectorMetrics,
    readonly exchange: string,
  ) {
    const e = exchange;
    this.requests = { markets: all.requests.labels(e, 'markets'), ticker: all.requests.labels(e, 'ticker'), funding: all.requests.labels(e, 'funding') };
    this.emitted = { ticker: all.emitted.labels(e, 'ticker'), funding: all.emitted.labels(e, 'funding') };
    this.suppressed = { ticker: all.suppressed.labels(e, 'ticker'), funding: all.suppressed.labels(e, 'funding') };
    this.latency = all.latency.labels(e);
    this.cycleDuration = all.cycleDuration.labels(e);
    this.timeoutGauge = all.timeout.labels(e);
    this.breakerGauge = all.breakerState.labels(e);
    this.breakerGauge.set(0);
  }

  request(operation: Operation): void {
    this.requests[operation].inc();
  }

  error(operation: Operation, errorClass: string, httpStatus?: number): void {
    this.all.errors.labels(this.exchange, operation, errorClass).inc();
    if (httpStatus !== undefined) this.all.httpErrors.labels(this.exchange, operation, String(httpStatus)).inc();
  }

  retry(errorClass: string): void {
    this.all.retries.labels(this.exchange, errorClass).inc();
  }

  httpLatency(ms: number): void {
    this.latency.observe(ms / 1000);
  }

  timeout(ms: number): void {
    this.timeoutGauge.set(ms / 1000);
  }

  breaker(to: BreakerState): void {
    this.breakerGauge.set(BREAKER_STATE_VALUE[to]);
    this.all.breakerTransitions.labels(this.exchange, to).inc();
  }

  records(type: RecordType, emitted: number, suppressed: number): void {
    if (emitted > 0) this.emitted[type].inc(emitted);
    if (suppressed > 0) this.suppressed[type].inc(suppressed);
  }

  dropped(type: RecordType, n: number): void {
    this.all.dropped.labels(this.exchange, type).inc(n);
  }

  cycle(outcome: string, ms: number): void {
    this.all.cycles.labels(this.exchange, outcome).inc();
    if (outcome !== 'skipped') this.cycleDuration.observe(ms / 1000);
  }
}
