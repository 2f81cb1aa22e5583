import { collectDefaultMetrics, Summary, type Registry } from 'prom-client';
import type { Histogram } from 'hdr-histogram-js';
import type { EngineStats, FeatureFlags, FileTelemetry, LatencyHistograms, PipelineGauges, StreamCounts, TelemetrySource } from './telemetry.js';
import { ScrapedMetrics, type Rows } from './scraped.js';

/*
 * Engine metrics for Prometheus. Every value is read from the TelemetrySource
 * in collect() at scrape time: the hot path never touches prom-client.
 *
 * Latency is exported as Prometheus *summaries* (quantile 0.5/0.9/0.99/0.999,
 * _sum, _count) plus a *_max_seconds gauge, computed from the engine's HDR
 * histograms. Why summaries: the HDR data already has exact-to-0.1 % quantiles
 * over everything recorded since start; fixed Prometheus buckets would throw
 * that precision away and cannot be read exactly off the Histogram interface
 * (no per-bucket iteration on the WASM build). The price: summaries cannot be
 * aggregated across instances; with one engine per host that is acceptable.
 * _sum is mean × count from the HDR histogram (each value counted at its
 * bucket's representative value, so within 0.1 %).
 */

const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;
const MICROS_PER_SECOND = 1e6;

export interface EngineMetrics {
  /** Names of the metrics registered. */
  readonly names: readonly string[];
  /** Remove them from the registry (so a registry can be reused after a server closes). */
  unregister(): void;
}

interface Snapshot {
  stats: EngineStats;
  gauges: PipelineGauges;
  files: FileTelemetry[];
  histograms: LatencyHistograms;
  ready: boolean;
  streams: { live: StreamCounts; history: StreamCounts } | undefined;
  modes: ReturnType<NonNullable<TelemetrySource['modeComparison']>>;
  mode: ReturnType<NonNullable<TelemetrySource['readMode']>> | undefined;
  features: FeatureFlags | undefined;
}

/**
 * One reading of the source per scrape: registry.metrics() runs every
 * collect() in the same macrotask, so a snapshot dropped on setImmediate is
 * shared by all of them (one stats() call per scrape, not one per metric) and
 * never outlives the scrape.
 */
function snapshotReader(source: TelemetrySource): () => Snapshot {
  let cached: Snapshot | undefined;
  return () => {
    if (!cached) {
      cached = {
        stats: source.stats(),
        gauges: source.gauges(),
        files: source.files(),
        histograms: source.histograms(),
        ready: isReady(source),
        streams: source.streamCounts?.(),
        modes: source.modeComparison?.(),
        mode: source.readMode?.(),
        features: source.features?.(),
      };
      setImmediate(() => {
        cached = undefined;
      });
    }
    return cached;
  };
}

/** A summary whose samples come from HDR histograms instead of observe(). */
export class HdrSummary extends Summary<string> {
  private readonly labelName: string | undefined;
  private readonly read: () => Array<[label: string, histogram: Histogram]>;

  /** Without `labelName`, one unlabelled summary (the label of `read`'s row is ignored). */
  /** Histogram values per second (µs unless told). */
  private readonly perSecond: number;

  constructor(
    config: { name: string; help: string; labelName?: string; registry: Registry; unitsPerSecond?: number },
    read: () => Array<[label: string, histogram: Histogram]>,
  ) {
    super({ name: config.name, help: config.help, labelNames: config.labelName ? [config.labelName] : [], registers: [config.registry] });
    this.labelName = config.labelName;
    this.read = read;
    this.perSecond = config.unitsPerSecond ?? MICROS_PER_SECOND;
  }

  override async get(): ReturnType<Summary<string>['get']> {
    const base = await super.get();
    const values: typeof base.values = [];
    for (const [label, h] of this.read()) {
      const labels: Record<string, string> = this.labelName ? { [this.labelName]: label } : {};
      const count = h.totalCount;
      // No quantile samples without observations (rather than a made-up 0).
      if (count > 0) {
        for (const q of QUANTILES) {
          values.push({ labels: { ...labels, quantile: q }, value: h.getValueAtPercentile(q * 100) / this.perSecond });
        }
      }
      values.push({ metricName: `${base.name}_sum`, labels, value: count > 0 ? (h.mean * count) / this.perSecond : 0 });
      values.push({ metricName: `${base.name}_count`, labels, value: count });
    }
    return { ...base, values };
  }
}

/** prom-client's default gauges that carry a counter's `_total` suffix. */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * Node/process default metrics (CPU, memory, event-loop lag, GC, handles),
 * once per registry. Three of prom-client's gauges end in `_total`, which
 * `promtool check metrics` rejects for a non-counter; each is only the sum over
 * the labelled gauge of the same name without the suffix, so they are dropped.
 */
export function registerDefaultMetrics(registry: Registry): void {
  if (registry.getSingleMetric('process_cpu_user_seconds_total')) return;
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
}

export function registerEngineMetrics(registry: Registry, source: TelemetrySource): EngineMetrics {
  const snap = snapshotReader(source);
  const metrics = new ScrapedMetrics(registry);
  const counter = (name: string, help: string, read: (s: Snapshot) => number): void => metrics.counter(name, help, () => read(snap()));
  const labelledCounter = (name: string, help: string, labelNames: string[], read: (s: Snapshot) => Rows): void =>
    metrics.labelledCounter(name, help, labelNames, () => read(snap()));
  const gauge = (name: string, help: string, labelNames: string[], read: (s: Snapshot) => Rows): void =>
    metrics.labelledGauge(name, help, labelNames, () => read(snap()));
  const one = (v: number): Array<[Record<string, string>, number]> => [[{}, v]];

  counter('ordertail_records_read_total', 'Records framed from the input: emitted + duplicate + rejected.', (s) => s.stats.recordsRead);
  counter('ordertail_records_emitted_total', 'Records written to the sink (after dedup).', (s) => s.stats.recordsEmitted);
  counter('ordertail_records_duplicate_total', 'Records dropped as duplicates of a key seen within the dedup window.', (s) => s.stats.duplicates);
  labelledCounter('ordertail_records_rejected_total', 'Records rejected (dead-lettered), by reason.', ['reason'], (s) =>
    Object.entries(s.stats.rejectedByReason).map(([reason, n]) => [{ reason }, n]),
  );
  counter('ordertail_records_without_key_total', 'Emitted records that had no dedup key (passed through).', (s) => s.stats.withoutKey);
  counter('ordertail_input_nul_padding_bytes_total', 'NUL bytes read over between records (a hole or a crash-extended file); the records around them are read.', (s) => s.stats.paddingBytes);
  counter('ordertail_event_time_invalid_total', 'Records whose event-time field was unusable (arrival time used).', (s) => s.stats.eventTimeInvalid);
  counter('ordertail_read_bytes_total', 'Input bytes read.', (s) => s.stats.bytesRead);
  counter('ordertail_dedup_forgotten_total', 'Dedup entries replaced because a new key found its probe sequence full (duplicates of them may pass).', (s) => s.gauges.dedup.forgotten);
  counter('ordertail_dedup_forgotten_in_window_total', 'Forgotten dedup entries still inside the window of the slowest input: the table is too small for the data.', (s) => s.gauges.dedup.forgottenInWindow);
  labelledCounter('ordertail_sink_flushes_total', 'Batches flushed to the sink.', ['sink'], (s) => [[{ sink: s.gauges.sink.name }, s.gauges.sink.flushes]]);
  labelledCounter('ordertail_sink_errors_total', 'Sink write errors.', ['sink'], (s) => [[{ sink: s.gauges.sink.name }, s.gauges.sink.errors]]);
  counter('ordertail_shadow_compared_total', 'Records parsed by both the main and the shadow parser.', (s) => s.stats.shadow.compared);
  counter('ordertail_shadow_mismatches_total', 'Records on which the shadow parser disagreed.', (s) => s.stats.shadow.mismatches);
  labelledCounter(
    'ordertail_stream_records_total',
    'Records per stream (live = tail, history = batch) and outcome; absent when the engine does not split counts by stream.',
    ['stream', 'outcome'],
    (s) => {
      if (!s.streams) return [];
      const out: Array<[Record<string, string>, number]> = [];
      for (const [stream, c] of Object.entries(s.streams)) {
        out.push([{ stream, outcome: 'read' }, c.read], [{ stream, outcome: 'emitted' }, c.emitted]);
        out.push([{ stream, outcome: 'duplicate' }, c.duplicates], [{ stream, outcome: 'rejected' }, c.rejected]);
      }
      return out;
    },
  );

  labelledCounter('ordertail_config_reloads_total', 'Config reloads (SIGHUP, a change of the config file, Engine.reload), by result: applied or rejected (invalid, or changing a setting that cannot change at run time).', ['result'], (s) => {
    const r = s.stats.configReloads;
    return r ? [[{ result: 'applied' }, r.applied], [{ result: 'rejected' }, r.rejected]] : [];
  });
  gauge('ordertail_config_last_reload_success_timestamp_seconds', 'When the configuration in force was loaded (start-up or the last applied reload), Unix time.', [], (s) => {
    const r = s.stats.configReloads;
    return r ? one(r.lastAppliedAtMs / 1000) : [];
  });
  gauge('ordertail_files_followed', 'Input files discovered so far.', [], (s) => one(s.stats.files));
  gauge('ordertail_open_input_files', 'Input file descriptors open now (capped by --max-open-files).', [], (s) => one(s.stats.openFiles));
  counter('ordertail_checkpoints_committed_total', 'Checkpoints committed (offsets, output lengths, dedup snapshot).', (s) => s.stats.checkpoints.committed);
  counter('ordertail_checkpoints_failed_total', 'Checkpoints that could not be committed (logged).', (s) => s.stats.checkpoints.failed);
  gauge('ordertail_file_lag_bytes', 'Bytes in a followed file not yet read (size - read).', ['file', 'stream'], (s) =>
    s.files.map((f) => [{ file: f.path, stream: f.live ? 'live' : 'history' }, f.lagBytes]),
  );
  gauge('ordertail_ring_occupancy_slots', 'Result slots waiting in a worker ring.', ['ring'], (s) =>
    s.gauges.ringOccupancy.map((n, i) => [{ ring: String(i) }, n]),
  );
  gauge('ordertail_ring_capacity_slots', 'Slots per worker result ring.', [], (s) => one(s.gauges.ringCapacity));
  gauge('ordertail_pool_queue_size', 'Ranges queued in the parse pool, not yet taken by a worker.', [], (s) => one(s.gauges.poolQueueSize));
  gauge('ordertail_ranges_in_flight', 'Ranges being parsed or waiting to be emitted.', [], (s) => one(s.gauges.rangesInFlight));
  gauge('ordertail_dedup_capacity_entries', 'Dedup table entries.', [], (s) => one(s.gauges.dedup.capacity));
  gauge('ordertail_dedup_entries', 'Keys the dedup table holds.', [], (s) => one(s.gauges.dedup.entries));
  gauge('ordertail_dedup_live_entries', 'Dedup table entries whose time is within the window of the newest time seen.', [], (s) => one(s.gauges.dedup.live));
  gauge('ordertail_dedup_memory_bytes', 'Dedup table memory (virtual; resident as keys land).', [], (s) => one(s.gauges.dedup.bytes));
  gauge('ordertail_dedup_load_ratio', 'Dedup table load: keys held / capacity (forgetting starts near 0.6).', [], (s) =>
    one(s.gauges.dedup.capacity > 0 ? s.gauges.dedup.entries / s.gauges.dedup.capacity : 0),
  );
  gauge('ordertail_parser_info', 'The parser the workers run (value is always 1).', ['parser'], (s) => [[{ parser: s.stats.parser }, 1]]);
  gauge('ordertail_ready', '1 when ready (workers up, sink writable), else 0; reasons at /readyz.', [], (s) => one(s.ready ? 1 : 0));
  gauge('ordertail_mode_info', 'How inputs are read now: realtime, legacy or hybrid (value is always 1; a reload may switch realtime and hybrid).', ['mode'], (s) =>
    s.mode ? [[{ mode: s.mode }, 1]] : [],
  );
  gauge('ordertail_feature_enabled', 'Feature flags in force (1 on, 0 off): live_lane (growth parsed on the engine thread), parser_shadow (a shadow parser re-parses a sample of ranges), canary_parser (a canary parser parses a share of the files).', ['feature'], (s) =>
    s.features
      ? [
          [{ feature: 'live_lane' }, s.features.liveLane ? 1 : 0],
          [{ feature: 'parser_shadow' }, s.features.parserShadow !== undefined && s.features.shadowSample > 0 ? 1 : 0],
          [{ feature: 'canary_parser' }, s.features.canaryParser !== undefined && s.features.canaryShare > 0 ? 1 : 0],
        ]
      : [],
  );
  gauge('ordertail_parser_shadow_sample_ratio', 'Share of ranges the shadow parser re-parses (0 without one).', [], (s) => (s.features ? one(s.features.shadowSample) : []));
  gauge('ordertail_canary_share_ratio', 'Share of input files the canary parser parses (0 without one).', [], (s) => (s.features ? one(s.features.canaryShare) : []));
  counter('ordertail_canary_ranges_total', 'Ranges parsed by the canary parser.', (s) => s.features?.canaryRanges ?? 0);
  counter('ordertail_canary_bytes_total', 'Bytes parsed by the canary parser.', (s) => s.features?.canaryBytes ?? 0);

  labelledCounter('ordertail_mode_records_total', 'Hybrid mode: records per path (live = realtime, batch = closed files read whole), first to see them (emitted) or not.', ['path', 'first'], (s) => {
    const m = s.modes?.counts;
    if (!m) return [];
    return [
      [{ path: 'live', first: 'true' }, m.live.first],
      [{ path: 'live', first: 'false' }, m.live.notFirst],
      [{ path: 'batch', first: 'true' }, m.batch.first],
      [{ path: 'batch', first: 'false' }, m.batch.notFirst],
    ];
  });
  labelledCounter('ordertail_mode_only_total', 'Hybrid mode: records one path saw and the other did not (batch: the live path missed them).', ['path'], (s) => {
    const m = s.modes?.counts;
    return m ? [[{ path: 'live' }, m.live.only], [{ path: 'batch' }, m.batch.only]] : [];
  });
  metrics.names.push('ordertail_mode_path_lag_seconds');
  new HdrSummary(
    { name: 'ordertail_mode_path_lag_seconds', help: 'Hybrid mode: batch path time minus live path time for records both saw (HDR histogram).', registry, unitsPerSecond: 1000 },
    () => {
      const m = snap().modes;
      return m ? [['', m.lagMs]] : [];
    },
  );

  const streams = (s: Snapshot): Array<[string, Histogram]> => [
    ['live', s.histograms.stream.live],
    ['history', s.histograms.stream.history],
  ];
  const stages = (s: Snapshot): Array<[string, Histogram]> => [
    ['parse', s.histograms.stage.parse],
    ['ring_wait', s.histograms.stage.ringWait],
    ['dedup', s.histograms.stage.dedup],
    ['sink_write', s.histograms.stage.sinkWrite],
  ];
  metrics.names.push('ordertail_stream_latency_seconds', 'ordertail_stage_latency_seconds');
  new HdrSummary(
    {
      name: 'ordertail_stream_latency_seconds',
      help: 'Append observed (live) or range planned (history) to emitted, per stream, since start (HDR histogram).',
      labelName: 'stream',
      registry,
    },
    () => streams(snap()),
  );
  new HdrSummary(
    {
      name: 'ordertail_stage_latency_seconds',
      help: 'Time per stage: parse (per parser batch), ring_wait (per range), dedup (per range), sink_write (per batch).',
      labelName: 'stage',
      registry,
    },
    () => stages(snap()),
  );
  const maxOf = (rows: Array<[string, Histogram]>, label: string): Array<[Record<string, string>, number]> =>
    rows.filter(([, h]) => h.totalCount > 0).map(([name, h]) => [{ [label]: name }, h.maxValue / MICROS_PER_SECOND]);
  gauge('ordertail_stream_latency_max_seconds', 'Largest stream latency since start.', ['stream'], (s) => maxOf(streams(s), 'stream'));
  gauge('ordertail_stage_latency_max_seconds', 'Largest stage time since start.', ['stage'], (s) => maxOf(stages(s), 'stage'));

  return { names: metrics.names, unregister: () => metrics.unregister() };
}

/** A readiness check that throws means not ready; the scrape itself must still succeed. */
function isReady(source: TelemetrySource): boolean {
  try {
    return source.readiness().ok;
  } catch {
    return false;
  }
}
