import { summarizeMicros } from './percentiles.js';
import type { ComparisonSnapshot } from '../modes/comparison.js';
import { MB, round, type SeriesPoint, type StreamName, type TelemetrySampler } from './sampler.js';
import type { LatencySummary } from './latency.js';
import type { DedupSummary, TelemetrySource } from './telemetry.js';

/*
 * The JSON endpoints. Names with the seed's meaning are kept verbatim
 * (fast_stream_latency, batch_stream_latency, orders_per_second,
 * duplicate_orders_count, memory_usage_mb, file_processing_queue_size);
 * everything else is snake_case too. Latencies are milliseconds
 * ({count, p50, p90, p99, p999, max}, the shape of EngineStats.latency);
 * "fast" is the live (tail) stream, "batch" is history. docs/observability.md
 * shows an example of each.
 *
 * GET /metrics/streaming   → StreamingJson
 * GET /metrics/latency     → LatencyJson
 * GET /metrics/comparison  → ComparisonJson
 * GET /metrics/files       → FilesJson
 * GET /metrics/series?since=EPOCH_MS → SeriesJson (what the status page charts)
 */

/** Whole-engine figures now. Rates are over the last `rate_window_seconds`. */
export interface StreamingJson {
  time: string;
  uptime_seconds: number;
  ready: boolean;
  not_ready_reasons: string[];
  parser: string;
  rate_window_seconds: number;
  /** Records emitted per second (after dedup). */
  orders_per_second: number;
  records_read_per_second: number;
  duplicates_per_second: number;
  rejects_per_second: number;
  bytes_read_per_second: number;
  /** Cumulative duplicates since start. */
  duplicate_orders_count: number;
  /** Resident set size of the process (all threads). */
  memory_usage_mb: number;
  heap_used_mb: number;
  /** Ranges queued in the parse pool, not yet taken by a worker. */
  file_processing_queue_size: number;
  ranges_in_flight: number;
  /** Since start, ms. */
  fast_stream_latency: LatencySummary;
  batch_stream_latency: LatencySummary;
  totals: {
    records_read: number;
    records_emitted: number;
    duplicates: number;
    rejected: number;
    rejected_by_reason: Record<string, number>;
    without_key: number;
    event_time_invalid: number;
    nul_padding_bytes: number;
    bytes_read: number;
    files: number;
  };
  dedup: DedupSummary & { load: number };
  sink: { name: string; flushes: number; errors: number };
  rings: { capacity: number; occupancy: number[] };
  /** Feature flags in force (a reload changes them); null when the source does not report them. */
  features: { live_lane: boolean; parser_shadow: string | null; shadow_sample: number; canary_parser: string | null; canary_share: number; canary_ranges: number } | null;
}

export interface LatencyJson {
  unit: 'ms';
  /** append observed → emitted, since start. */
  fast_stream_latency: LatencySummary;
  /** range planned → emitted, since start. */
  batch_stream_latency: LatencySummary;
  stages: { parse: LatencySummary; ring_wait: LatencySummary; dedup: LatencySummary; sink_write: LatencySummary };
  /** The most recent sampling interval only (null before the first sample). */
  last_interval: { interval_ms: number; fast_stream_latency: LatencySummary; batch_stream_latency: LatencySummary } | null;
}

export interface StreamView {
  stream: StreamName;
  /** "fast" = the live (tail) stream, "batch" = history. */
  role: 'fast' | 'batch';
  orders_per_second: number;
  /** Null when the engine does not split these counts by stream. */
  duplicates_per_second: number | null;
  rejects_per_second: number | null;
  records_emitted: number;
  duplicate_orders_count: number | null;
  rejected: number | null;
  latency: LatencySummary;
  files: number;
  lag_bytes: number;
}

export interface ComparisonJson {
  time: string;
  rate_window_seconds: number;
  live: StreamView;
  history: StreamView;
  /** Same objects as live.latency / history.latency, under the seed's names. */
  fast_stream_latency: LatencySummary;
  batch_stream_latency: LatencySummary;
  /** history pX / live pX: how many times faster the tail is (null without data). */
  speedup: { p50: number | null; p99: number | null };
  /** How inputs are read now (README, "Modes"): the status page shows the paths in legacy and hybrid mode. */
  mode: 'realtime' | 'legacy' | 'hybrid';
  /** Hybrid mode: the live path beside the batch path (records first seen, seen by one only, lag); null in other modes. */
  modes: ComparisonSnapshot | null;
}

export interface FileJson {
  path: string;
  stream: StreamName;
  size_bytes: number;
  read_bytes: number;
  lag_bytes: number;
}

export interface FilesJson {
  count: number;
  total_lag_bytes: number;
  /** Live files first, then by lag, largest first. */
  files: FileJson[];
}

export interface SeriesJson {
  interval_ms: number;
  capacity: number;
  points: SeriesPoint[];
}

export function streamingJson(source: TelemetrySource, sampler: TelemetrySampler, now = Date.now()): StreamingJson {
  const s = source.stats();
  const g = source.gauges();
  const r = sampler.rates(now);
  const ready = source.readiness();
  const h = source.histograms().stream;
  const mem = process.memoryUsage();
  const f = source.features?.();
  return {
    time: new Date(now).toISOString(),
    uptime_seconds: round((now - source.startedAt) / 1000, 1),
    ready: ready.ok,
    not_ready_reasons: ready.reasons,
    parser: s.parser,
    rate_window_seconds: r.window_seconds,
    orders_per_second: r.orders_per_second,
    records_read_per_second: r.records_read_per_second,
    duplicates_per_second: r.duplicates_per_second,
    rejects_per_second: r.rejects_per_second,
    bytes_read_per_second: r.bytes_per_second,
    duplicate_orders_count: s.duplicates,
    memory_usage_mb: round(mem.rss / MB, 1),
    heap_used_mb: round(mem.heapUsed / MB, 1),
    file_processing_queue_size: g.poolQueueSize,
    ranges_in_flight: g.rangesInFlight,
    fast_stream_latency: summarizeMicros(h.live),
    batch_stream_latency: summarizeMicros(h.history),
    totals: {
      records_read: s.recordsRead,
      records_emitted: s.recordsEmitted,
      duplicates: s.duplicates,
      rejected: s.rejected,
      rejected_by_reason: s.rejectedByReason,
      without_key: s.withoutKey,
      event_time_invalid: s.eventTimeInvalid,
      nul_padding_bytes: s.paddingBytes,
      bytes_read: s.bytesRead,
      files: s.files,
    },
    dedup: { ...g.dedup, load: g.dedup.capacity > 0 ? round(g.dedup.entries / g.dedup.capacity, 4) : 0 },
    sink: g.sink,
    rings: { capacity: g.ringCapacity, occupancy: g.ringOccupancy },
    features: f
      ? { live_lane: f.liveLane, parser_shadow: f.parserShadow ?? null, shadow_sample: f.shadowSample, canary_parser: f.canaryParser ?? null, canary_share: f.canaryShare, canary_ranges: f.canaryRanges }
      : null,
  };
}

export function latencyJson(source: TelemetrySource, sampler: TelemetrySampler): LatencyJson {
  const h = source.histograms();
  const last = sampler.latest();
  return {
    unit: 'ms',
    fast_stream_latency: summarizeMicros(h.stream.live),
    batch_stream_latency: summarizeMicros(h.stream.history),
    stages: {
      parse: summarizeMicros(h.stage.parse),
      ring_wait: summarizeMicros(h.stage.ringWait),
      dedup: summarizeMicros(h.stage.dedup),
      sink_write: summarizeMicros(h.stage.sinkWrite),
    },
    last_interval: last
      ? { interval_ms: last.interval_ms, fast_stream_latency: last.live.latency_ms, batch_stream_latency: last.history.latency_ms }
      : null,
  };
}

export function comparisonJson(source: TelemetrySource, sampler: TelemetrySampler, now = Date.now()): ComparisonJson {
  const r = sampler.rates(now);
  const h = source.histograms().stream;
  const split = source.streamCounts?.();
  const files = source.files();
  const view = (stream: StreamName): StreamView => {
    const mine = files.filter((f) => f.live === (stream === 'live'));
    const c = split?.[stream];
    return {
      stream,
      role: stream === 'live' ? 'fast' : 'batch',
      ...r.stream[stream],
      records_emitted: c ? c.emitted : h[stream].totalCount,
      duplicate_orders_count: c ? c.duplicates : null,
      rejected: c ? c.rejected : null,
      latency: summarizeMicros(h[stream]),
      files: mine.length,
      lag_bytes: mine.reduce((sum, f) => sum + f.lagBytes, 0),
    };
  };
  const live = view('live');
  const history = view('history');
  const ratio = (a: number, b: number): number | null => (a > 0 && b > 0 ? round(b / a, 2) : null);
  return {
    time: new Date(now).toISOString(),
    rate_window_seconds: r.window_seconds,
    live,
    history,
    fast_stream_latency: live.latency,
    batch_stream_latency: history.latency,
    speedup: { p50: ratio(live.latency.p50, history.latency.p50), p99: ratio(live.latency.p99, history.latency.p99) },
    mode: source.readMode?.() ?? 'realtime',
    modes: source.modeComparison?.()?.counts ?? null,
  };
}

export function filesJson(source: TelemetrySource): FilesJson {
  const files: FileJson[] = source
    .files()
    .map((f) => ({
      path: f.path,
      stream: f.live ? ('live' as const) : ('history' as const),
      size_bytes: f.sizeBytes,
      read_bytes: f.readBytes,
      lag_bytes: f.lagBytes,
    }))
    .sort((a, b) => (a.stream === b.stream ? b.lag_bytes - a.lag_bytes : a.stream === 'live' ? -1 : 1));
  return { count: files.length, total_lag_bytes: files.reduce((sum, f) => sum + f.lag_bytes, 0), files };
}

export function seriesJson(sampler: TelemetrySampler, since: number): SeriesJson {
  return { interval_ms: sampler.intervalMs, capacity: sampler.capacity, points: sampler.series(since) };
}
