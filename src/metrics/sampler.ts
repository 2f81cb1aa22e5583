import type { Histogram } from 'hdr-histogram-js';
import { MetricsOptionError } from './errors.js';
import { IntervalPercentiles, summarizeValues } from './percentiles.js';
import type { LatencySummary } from './latency.js';
import type { TelemetrySource } from './telemetry.js';

export type StreamName = 'live' | 'history';
export const STREAMS: readonly StreamName[] = ['live', 'history'];

/** One stream's share of a sampling interval. */
export interface StreamPoint {
  /** Records emitted per second. */
  orders_per_second: number;
  /** Null when the source has no per-stream counts (TelemetrySource.streamCounts). */
  duplicates_per_second: number | null;
  rejects_per_second: number | null;
  /** Latency (ms) of the records emitted during this interval only, not since start. */
  latency_ms: LatencySummary;
}

/** One sampling interval: rates over [t - interval_ms, t], gauges at t. */
export interface SeriesPoint {
  /** Epoch ms at the end of the interval. */
  t: number;
  interval_ms: number;
  records_read_per_second: number;
  orders_per_second: number;
  duplicates_per_second: number;
  rejects_per_second: number;
  bytes_per_second: number;
  memory_usage_mb: number;
  file_processing_queue_size: number;
  lag_bytes: number;
  live: StreamPoint;
  history: StreamPoint;
}

/** Cumulative counts at one instant: rates are differences of two readings. */
export interface Reading {
  t: number;
  read: number;
  emitted: number;
  duplicates: number;
  rejected: number;
  bytes: number;
  stream: Record<StreamName, { emitted: number; duplicates: number | null; rejected: number | null }>;
}

export interface Rates {
  window_seconds: number;
  records_read_per_second: number;
  orders_per_second: number;
  duplicates_per_second: number;
  rejects_per_second: number;
  bytes_per_second: number;
  stream: Record<StreamName, { orders_per_second: number; duplicates_per_second: number | null; rejects_per_second: number | null }>;
}

export interface SamplerOptions {
  /** Sampling period; one point per period. Default 1000 ms. */
  intervalMs?: number;
  /** Points kept (the page's time axis). Default 300 (5 minutes at 1 s). */
  capacity?: number;
  /** Window for the "per second" figures of the JSON endpoints. Default 10 s. */
  rateWindowMs?: number;
}

export const MB = 1024 * 1024;

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return 0;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Take a cumulative reading of the counters the rates are made of. */
export function takeReading(source: TelemetrySource, t: number): Reading {
  const s = source.readingCounts?.() ?? source.stats();
  const h = source.histograms().stream;
  const split = source.streamCounts?.();
  const per = (name: StreamName): Reading['stream'][StreamName] => {
    const c = split?.[name];
    return c
      ? { emitted: c.emitted, duplicates: c.duplicates, rejected: c.rejected }
      : { emitted: h[name].totalCount, duplicates: null, rejected: null };
  };
  return {
    t,
    read: s.recordsRead,
    emitted: s.recordsEmitted,
    duplicates: s.duplicates,
    rejected: s.rejected,
    bytes: s.bytesRead,
    stream: { live: per('live'), history: per('history') },
  };
}

/** Per-second rates between two readings (`a` older). */
export function ratesBetween(a: Reading, b: Reading): Rates {
  const secs = Math.max(0.001, (b.t - a.t) / 1000);
  const rate = (x: number, y: number): number => round(Math.max(0, y - x) / secs);
  const rateOrNull = (x: number | null, y: number | null): number | null => (x === null || y === null ? null : rate(x, y));
  const per = (n: StreamName): Rates['stream'][StreamName] => ({
    orders_per_second: rate(a.stream[n].emitted, b.stream[n].emitted),
    duplicates_per_second: rateOrNull(a.stream[n].duplicates, b.stream[n].duplicates),
    rejects_per_second: rateOrNull(a.stream[n].rejected, b.stream[n].rejected),
  });
  return {
    window_seconds: round(secs, 3),
    records_read_per_second: rate(a.read, b.read),
    orders_per_second: rate(a.emitted, b.emitted),
    duplicates_per_second: rate(a.duplicates, b.duplicates),
    rejects_per_second: rate(a.rejected, b.rejected),
    bytes_per_second: rate(a.bytes, b.bytes),
    stream: { live: per('live'), history: per('history') },
  };
}

/**
 * Keeps the last few minutes of per-second figures so the status page can draw
 * "the last minutes" as soon as it opens, and so rates are real rates (a
 * difference of two readings) rather than averages since start.
 *
 * Cost: one reading of the counters per interval, plus, only for a stream whose histogram
 * grew, one pass over its counts (and, for a WASM histogram, one uncompressed
 * encode/decode to reach them) to get the latency of just that interval
 * (cumulative percentiles flatten out and would hide a fresh spike). Nothing
 * happens per record.
 */
export class TelemetrySampler {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly rateWindowMs: number;
  private readonly points: SeriesPoint[] = [];
  /** readings[i] is the reading at the end of points[i - 1]; readings[0] is the baseline. */
  private readonly readings: Reading[] = [];
  private readonly interval: Record<StreamName, IntervalPercentiles> = { live: new IntervalPercentiles(), history: new IntervalPercentiles() };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: TelemetrySource,
    options: SamplerOptions = {},
  ) {
    this.intervalMs = positive(options.intervalMs ?? 1000, 'intervalMs');
    this.capacity = Math.floor(positive(options.capacity ?? 300, 'capacity'));
    this.rateWindowMs = positive(options.rateWindowMs ?? 10_000, 'rateWindowMs');
    // Counters are cumulative since the engine started: the baseline is zero at startedAt.
    this.readings.push({
      t: source.startedAt,
      read: 0,
      emitted: 0,
      duplicates: 0,
      rejected: 0,
      bytes: 0,
      stream: {
        live: { emitted: 0, duplicates: 0, rejected: 0 },
        history: { emitted: 0, duplicates: 0, rejected: 0 },
      },
    });
  }

  /**
   * Sample every interval, the first one interval from now (not at once: a
   * sample reads the latency histograms, which builds them, and at start-up
   * that put loading hdr-histogram-js and its WebAssembly, a noticeable stall
   * of the main thread (measured by hand, figures in bench/RESULTS.md), in the
   * middle of the busiest second of a run). A failing sample
   * is reported, never thrown from the timer.
   */
  start(onError: (err: unknown) => void = () => {}): void {
    if (this.timer) return;
    this.source.keepIntervalLatency?.();
    const sample = (): void => {
      try {
        this.tick();
      } catch (err) {
        onError(err);
      }
    };
    this.timer = setInterval(sample, this.intervalMs);
    // A metrics sampler must never keep the process alive on its own.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Take one sample now (the timer calls this; tests may call it directly). */
  tick(now = Date.now()): SeriesPoint {
    const prev = this.readings[this.readings.length - 1]!;
    const reading = takeReading(this.source, now);
    const rates = ratesBetween(prev, reading);
    const hist = this.source.histograms().stream;
    const files = this.source.files();
    const point: SeriesPoint = {
      t: now,
      interval_ms: Math.max(0, now - prev.t),
      records_read_per_second: rates.records_read_per_second,
      orders_per_second: rates.orders_per_second,
      duplicates_per_second: rates.duplicates_per_second,
      rejects_per_second: rates.rejects_per_second,
      bytes_per_second: rates.bytes_per_second,
      memory_usage_mb: round(process.memoryUsage.rss() / MB, 1),
      file_processing_queue_size: this.source.poolQueueSize?.() ?? this.source.gauges().poolQueueSize,
      lag_bytes: files.reduce((sum, f) => sum + f.lagBytes, 0),
      live: { ...rates.stream.live, latency_ms: this.intervalLatency('live', hist.live) },
      history: { ...rates.stream.history, latency_ms: this.intervalLatency('history', hist.history) },
    };
    this.points.push(point);
    this.readings.push(reading);
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
    // One reading more than points: the one before the oldest point.
    if (this.readings.length > this.capacity + 1) this.readings.splice(0, this.readings.length - this.capacity - 1);
    return point;
  }

  /** Points newer than `since` (epoch ms), oldest first. */
  series(since = -Infinity): SeriesPoint[] {
    return this.points.filter((p) => p.t > since);
  }

  latest(): SeriesPoint | undefined {
    return this.points[this.points.length - 1];
  }

  /**
   * Rates over the last `rateWindowMs`, ending at a fresh reading: from the
   * newest kept reading at least a window old (else the oldest kept one).
   */
  rates(now = Date.now()): Rates {
    const current = takeReading(this.source, now);
    let base = this.readings[0]!;
    for (const r of this.readings) {
      if (r.t <= now - this.rateWindowMs) base = r;
      else break;
    }
    return ratesBetween(base, current);
  }

  private intervalLatency(stream: StreamName, h: Histogram): LatencySummary {
    const pairs = this.source.intervalLatency?.(stream);
    return pairs ? summarizeValues(pairs) : this.interval[stream].next(h);
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new MetricsOptionError(`sampler.${name} must be a positive number, got ${value}`, `sampler.${name}`);
  }
  return value;
}
