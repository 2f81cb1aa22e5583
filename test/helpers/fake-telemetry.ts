import type { EngineStats, RejectReason } from '../../dist/src/index.js';
import { createLatencyHistogram } from '../../dist/src/metrics/histograms.js';
import { LatencyRecorder } from '../../dist/src/metrics/latency.js';
import type {
  FileTelemetry,
  LatencyHistograms,
  PipelineGauges,
  Readiness,
  StreamCounts,
  TelemetrySource,
} from '../../dist/src/metrics/telemetry.js';

type Stream = 'live' | 'history';

export interface Batch {
  /** Accepted records, each with this append→emit latency in microseconds. */
  emittedMicros?: number[];
  duplicates?: number;
  /** Rejects by reason. */
  rejected?: Record<string, number>;
  withoutKey?: number;
  bytes?: number;
}

/**
 * A TelemetrySource made of real HDR histograms (the engine's own factory)
 * and plain numbers, fed by the test: what the observability layer is given,
 * without an engine behind it.
 */
export class FakeTelemetry implements TelemetrySource {
  readonly startedAt: number;
  readonly counts: Record<Stream, StreamCounts> = {
    live: { read: 0, emitted: 0, duplicates: 0, rejected: 0 },
    history: { read: 0, emitted: 0, duplicates: 0, rejected: 0 },
  };
  readonly rejectedByReason: Record<RejectReason, number> = {
    invalid_json: 0, invalid_utf8: 0, control_char: 0, not_object: 0, trailing_garbage: 0, too_large: 0, too_deep: 0, truncated_document: 0,
  };
  withoutKey = 0;
  bytesRead = 0;
  fileList: FileTelemetry[] = [];
  ready: Readiness = { ok: true, reasons: [] };
  gaugeValues: PipelineGauges = {
    ringOccupancy: [3, 0],
    ringCapacity: 1024,
    poolQueueSize: 2,
    rangesInFlight: 4,
    dedup: { capacity: 1 << 16, entries: 1 << 12, live: 1 << 11, forgotten: 5, forgottenInWindow: 2, bytes: 1_200_000 },
    sink: { name: 'file', flushes: 17, errors: 0 },
  };
  readonly hist: LatencyHistograms = {
    stream: { live: createLatencyHistogram(), history: createLatencyHistogram() },
    stage: { parse: createLatencyHistogram(), ringWait: createLatencyHistogram(), dedup: createLatencyHistogram(), sinkWrite: createLatencyHistogram() },
  };
  streamCounts?: () => { live: StreamCounts; history: StreamCounts };

  constructor(options: { splitByStream?: boolean; startedAt?: number } = {}) {
    this.startedAt = options.startedAt ?? Date.now();
    if (options.splitByStream !== false) this.streamCounts = () => structuredClone(this.counts);
  }

  /** Account one batch of records on a stream, as the engine's emit stage would. */
  feed(stream: Stream, batch: Batch): void {
    const c = this.counts[stream];
    const emitted = batch.emittedMicros ?? [];
    const rejected = Object.values(batch.rejected ?? {}).reduce((a, b) => a + b, 0);
    for (const us of emitted) this.hist.stream[stream].recordValue(us);
    for (const [reason, n] of Object.entries(batch.rejected ?? {})) this.rejectedByReason[reason as RejectReason] += n;
    c.emitted += emitted.length;
    c.duplicates += batch.duplicates ?? 0;
    c.rejected += rejected;
    c.read += emitted.length + (batch.duplicates ?? 0) + rejected;
    this.withoutKey += batch.withoutKey ?? 0;
    this.bytesRead += batch.bytes ?? 0;
  }

  stats(): EngineStats {
    const sum = (k: keyof StreamCounts): number => this.counts.live[k] + this.counts.history[k];
    return {
      recordsRead: sum('read'),
      recordsEmitted: sum('emitted'),
      duplicates: sum('duplicates'),
      rejected: sum('rejected'),
      rejectedByReason: { ...this.rejectedByReason },
      withoutKey: this.withoutKey,
      dedupForgotten: this.gaugeValues.dedup.forgotten,
      dedupForgottenInWindow: this.gaugeValues.dedup.forgottenInWindow,
      eventTimeInvalid: 0,
      paddingBytes: 0,
      bytesRead: this.bytesRead,
      files: this.fileList.length,
      parser: 'js',
      shadow: { compared: 0, mismatches: 0 },
      dedup: { ...this.gaugeValues.dedup, impl: 'native' },
      latency: LatencyRecorder.summarize(this.hist.stream.live),
      historyLatency: LatencyRecorder.summarize(this.hist.stream.history),
      checkpoints: { dir: '/var/lib/ordertail/ck', committed: 3, failed: 1, lastCommittedAtMs: 1_700_000_000_000 },
      openFiles: 2,
      unread: [],
    };
  }

  files(): FileTelemetry[] {
    return this.fileList.map((f) => ({ ...f }));
  }

  gauges(): PipelineGauges {
    return structuredClone(this.gaugeValues);
  }

  histograms(): LatencyHistograms {
    return this.hist;
  }

  readiness(): Readiness {
    return { ok: this.ready.ok, reasons: [...this.ready.reasons] };
  }
}

/** `n` copies of `micros`. */
export function repeat(micros: number, n: number): number[] {
  return new Array<number>(n).fill(micros);
}

/** Parse a Prometheus text exposition into `name{labels}` → value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}
