/*
 * Hybrid mode's bookkeeping: which path (live = the realtime pipeline, batch =
 * the legacy batch over closed files) saw each record first, what one path
 * saw that the other did not, and the lag between them. The dedup table
 * already decides "first": a record the batch path emits is one the live
 * path had not emitted, so no per-key provenance is stored. The live path is
 * counted per slice and timed per range (live-times.ts); only the batch path,
 * off the hot path, is looked at record by record.
 */
import type { Histogram } from 'hdr-histogram-js';
import { createLazyLatencyHistogram, destroyLatencyHistogram } from '../metrics/histograms.js';
import { LiveTimes } from './live-times.js';

export type ComparedPath = 'live' | 'batch';

/** Counts of one path: records it saw first (emitted) and records the other path (or itself) had emitted before. */
export interface PathCounts {
  first: number;
  notFirst: number;
  /** Records this path saw and the other did not. */
  only: number;
}

export interface ComparisonSnapshot {
  live: PathCounts;
  batch: PathCounts;
  /** Batch time − live time for records both paths saw (seconds). */
  lagSeconds: { count: number; p50: number; p90: number; p99: number; max: number };
  /** Closed files the batch path has read whole. */
  batchFiles: number;
}

/** A record only the batch path saw, for the warning (rate-limited by the caller). */
export interface MissedRecord {
  file: string;
  offset: number;
}

interface FileTally {
  liveFirst: number;
  /** Batch duplicates at offsets the live path had emitted. */
  matched: number;
}

/** Lag kept in milliseconds: an hourly batch lags by more than the µs latency histograms hold. */
const LAG_UNIT_MS = 1;
const MAX_TALLIES = 4096;

export class PathComparison {
  private readonly counts = { live: { first: 0, notFirst: 0, only: 0 }, batch: { first: 0, notFirst: 0, only: 0 } };
  private readonly times = new LiveTimes();
  private readonly tallies = new Map<string, FileTally>();
  private readonly lag: Histogram = createLazyLatencyHistogram();
  private batchFiles = 0;
  /** The last file's tally (the batch path reports a file's records one after another). */
  private tallyIdentity: string | undefined;
  private lastTally: FileTally | undefined;
  /**
   * A run of batch records the live path emitted at one time, recorded in the
   * lag histogram as one value and a count: the lag of the run's first record,
   * in whole milliseconds (those after it come microseconds later).
   */
  private runLiveAt = Number.NaN;
  private runLagMs = 0;
  private runCount = 0;

  constructor(private readonly onMissed: (record: MissedRecord) => void) {}

  /** The live path emitted a slice of `identity`: `first` records emitted, `notFirst` dropped as duplicates. */
  liveSlice(identity: string, first: number, notFirst: number): void {
    this.counts.live.first += first;
    this.counts.live.notFirst += notFirst;
    if (first > 0) this.tally(identity).liveFirst += first;
  }

  /** The live path has emitted `identity` up to `endOffset`. */
  liveRange(identity: string, endOffset: number): void {
    this.times.note(identity, endOffset, Date.now());
  }

  /** The batch path's verdict on one record (its offset in the file). */
  batchRecord(identity: string, path: string, offset: number, emitted: boolean): void {
    const batch = this.counts.batch;
    if (emitted) {
      batch.first++;
      batch.only++;
      this.onMissed({ file: path, offset });
      return;
    }
    batch.notFirst++;
    const liveAt = this.times.timeAt(identity, offset);
    if (liveAt === undefined) return;
    this.tally(identity).matched++;
    if (liveAt !== this.runLiveAt) {
      this.recordRun();
      this.runLiveAt = liveAt;
      this.runLagMs = Math.max(1, Math.round((Date.now() - liveAt) / LAG_UNIT_MS));
    }
    this.runCount++;
  }

  private recordRun(): void {
    if (this.runCount > 0) this.lag.recordValueWithCount(this.runLagMs, this.runCount);
    this.runCount = 0;
    this.runLiveAt = Number.NaN;
  }

  /**
   * The batch path has read `identity` whole: records the live path emitted
   * there that the batch path did not meet again are the live path's own.
   */
  batchFileDone(identity: string): void {
    this.recordRun();
    this.batchFiles++;
    const t = this.tallies.get(identity);
    if (t) this.counts.live.only += Math.max(0, t.liveFirst - t.matched);
    this.tallies.delete(identity);
    if (identity === this.tallyIdentity) this.tallyIdentity = undefined;
    this.times.forget(identity);
  }

  private tally(identity: string): FileTally {
    if (identity === this.tallyIdentity) return this.lastTally!;
    let t = this.tallies.get(identity);
    if (!t) {
      if (this.tallies.size >= MAX_TALLIES) this.tallies.delete(this.tallies.keys().next().value!);
      t = { liveFirst: 0, matched: 0 };
      this.tallies.set(identity, t);
    }
    this.tallyIdentity = identity;
    this.lastTally = t;
    return t;
  }

  snapshot(): ComparisonSnapshot {
    this.recordRun();
    const h = this.lag;
    const count = h.totalCount;
    const at = (p: number): number => (count === 0 ? 0 : (h.getValueAtPercentile(p) * LAG_UNIT_MS) / 1000);
    return {
      live: { ...this.counts.live },
      batch: { ...this.counts.batch },
      lagSeconds: { count, p50: at(50), p90: at(90), p99: at(99), max: count === 0 ? 0 : (h.maxValue * LAG_UNIT_MS) / 1000 },
      batchFiles: this.batchFiles,
    };
  }

  /** Batch time − live time, in milliseconds, for records both paths saw. */
  get lagHistogram(): Histogram {
    this.recordRun();
    return this.lag;
  }

  /** The lag histogram holds WebAssembly memory the GC never frees. */
  destroy(): void {
    destroyLatencyHistogram(this.lag);
  }
}
