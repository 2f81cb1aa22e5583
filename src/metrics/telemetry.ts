import type { ConfigReloadStats } from './reloads.js';
import type { Histogram } from 'hdr-histogram-js';
import type { RejectReason } from '../parser/contract.js';
import type { ParserName } from '../parser/select.js';
import type { Unread } from '../sources/open-retry.js';
import type { LatencySummary } from './percentiles.js';
import type { ComparisonSnapshot } from '../modes/comparison.js';

/** engine.stats(): counts since start, the table, latency, checkpoints, what could not be read. */
export interface EngineStats {
  recordsRead: number;
  recordsEmitted: number;
  duplicates: number;
  rejected: number;
  rejectedByReason: Record<RejectReason, number>;
  withoutKey: number;
  /** Dedup entries replaced under space pressure (duplicates of them may pass), and those of them still inside the window. */
  dedupForgotten: number;
  dedupForgottenInWindow: number;
  eventTimeInvalid: number;
  /** NUL bytes read over between records (a hole left by copytruncate under a writer without O_APPEND, or by a crash); the records around them are read. */
  paddingBytes: number;
  bytesRead: number;
  files: number;
  /** The parser the workers run. */
  parser: ParserName;
  /** Shadow parsing: records compared and disagreements (0/0 when off). */
  shadow: { compared: number; mismatches: number };
  /** impl: who inserts on the main thread, the addon's batch insert or DedupTable.insertAt (js). */
  dedup: DedupSummary & { impl: 'js' | 'native' };
  /** Live stream (growth observed while following) → emitted, milliseconds. */
  latency: LatencySummary;
  /** History (content present when a file was opened) → emitted, milliseconds. */
  historyLatency: LatencySummary;
  /** Checkpoints committed (0 when checkpointing is off) and failed. */
  checkpoints: { dir: string | undefined; committed: number; failed: number; lastCommittedAtMs: number | undefined };
  /** Config reloads applied and refused (Engine.reload); absent from sources that do not reload. */
  configReloads?: ConfigReloadStats;
  /** Input file descriptors open now (capped by maxOpenFiles). */
  openFiles: number;
  /** Inputs that could not be read (with `once`: after retries); a `once` run with any did not read everything. */
  unread: Unread[];
}

/**
 * What the engine exposes to observability (HTTP endpoints, Prometheus, the
 * status page). Everything is read when asked (a scrape, a page poll), never
 * pushed per record.
 */
export interface FileTelemetry {
  path: string;
  /** The live stream (newest/growing file) vs history. */
  live: boolean;
  /** Bytes in the file now, bytes read (emitted or in flight) so far, and the difference. */
  sizeBytes: number;
  readBytes: number;
  lagBytes: number;
}

export interface PipelineGauges {
  /** Slots waiting in each worker's result ring. */
  ringOccupancy: number[];
  ringCapacity: number;
  /** Ranges queued in the Piscina pool, and ranges in flight or waiting to be emitted. */
  poolQueueSize: number;
  rangesInFlight: number;
  dedup: DedupSummary;
  sink: { name: string; flushes: number; errors: number };
}

/** Latency histograms in microseconds (hdr-histogram-js), merged from all threads. */
export interface LatencyHistograms {
  /** Observed growth (live) or range planning (history) → emitted. */
  stream: { live: Histogram; history: Histogram };
  /** Per stage: parse (worker, per record), ringWait (worker waiting on a full ring),
   *  dedup (emit stage, per record), sinkWrite (per sink batch). */
  stage: { parse: Histogram; ringWait: Histogram; dedup: Histogram; sinkWrite: Histogram };
}

export interface Readiness {
  ok: boolean;
  /** Why not ready (empty when ok). */
  reasons: string[];
}

/** Per-stream record counts: records of ranges planned as live vs history. */
export interface StreamCounts {
  read: number;
  emitted: number;
  duplicates: number;
  rejected: number;
}

/** What a sampler's reading takes from stats(). */
export type ReadingCounts = Pick<EngineStats, 'recordsRead' | 'recordsEmitted' | 'duplicates' | 'rejected' | 'bytesRead'>;

export interface TelemetrySource {
  stats(): EngineStats;
  files(): FileTelemetry[];
  gauges(): PipelineGauges;
  histograms(): LatencyHistograms;
  readiness(): Readiness;
  /** process start → now, for rates on the page */
  readonly startedAt: number;
  /**
   * Optional: counts split by stream. Without it the status page and JSON
   * endpoints derive per-stream emitted counts from the latency histograms
   * (one count per emitted record) and report duplicates/rejects for all
   * streams together (per-stream fields are null).
   */
  streamCounts?(): { live: StreamCounts; history: StreamCounts };
  /**
   * Optional: the cumulative counts a sampler's reading is made of, and the
   * parse pool's queue, without building stats() and gauges() (latency
   * summaries, the dedup table's sampled occupancy) on every tick.
   */
  readingCounts?(): ReadingCounts;
  poolQueueSize?(): number;
  /**
   * Optional: after keepIntervalLatency(), the (µs, count) pairs recorded for
   * a stream since the previous call, so a sampler gets one interval's
   * percentiles from them (summarizeValues) instead of walking the histogram.
   */
  keepIntervalLatency?(): void;
  intervalLatency?(stream: 'live' | 'history'): readonly number[] | undefined;
  /** Optional: hybrid mode's live vs batch path comparison (undefined in other modes); `lagMs` in milliseconds. */
  modeComparison?(): { counts: ComparisonSnapshot; lagMs: Histogram } | undefined;
  /** Optional: how inputs are read now (README, "Modes"); absent means realtime. */
  readMode?(): 'realtime' | 'legacy' | 'hybrid';
  /** Optional: the feature flags in force (a reload changes them); absent: not reported. */
  features?(): FeatureFlags;
}

/** Settings that turn a part of the data path on or off at run time (README, "Reloading the configuration"). */
export interface FeatureFlags {
  /** Small growth of followed files parsed on the engine's thread (false: through the worker pool). */
  liveLane: boolean;
  /** The shadow parser, if any (fixed at start-up: the worker threads load it). */
  parserShadow: string | undefined;
  /** Share of ranges it re-parses (0 when there is no shadow parser). */
  shadowSample: number;
  /** The canary parser, if any (fixed at start-up), and the share of files it parses (0 without one). */
  canaryParser: string | undefined;
  canaryShare: number;
  /** Ranges and bytes the canary parser has parsed. */
  canaryRanges: number;
  canaryBytes: number;
}

/** The dedup table as metrics see it (DedupTable.stats, layout.ts "Forgetting"). */
export interface DedupSummary {
  /** Slots. */
  capacity: number;
  /** Keys held. */
  entries: number;
  /** Keys held whose time is within the window of the newest time seen. */
  live: number;
  /** Entries replaced because the table was full where a new key landed. */
  forgotten: number;
  /** Of those, entries still inside the window of the slowest input: duplicates of them may pass. */
  forgottenInWindow: number;
  /** Table memory (virtual; resident as keys land). */
  bytes: number;
}

export function dedupSummary(d: DedupSummary | undefined): DedupSummary {
  return {
    capacity: d?.capacity ?? 0,
    entries: d?.entries ?? 0,
    live: d?.live ?? 0,
    forgotten: d?.forgotten ?? 0,
    forgottenInWindow: d?.forgottenInWindow ?? 0,
    bytes: d?.bytes ?? 0,
  };
}
