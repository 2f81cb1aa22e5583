/*
 * Config hot reload, the applying half: puts a plan (config/reload.ts) into
 * effect on the running stages. Everything here is synchronous and touches
 * no record: it runs between two passes of the emit loop, so no record is
 * emitted under a half-applied configuration, and the pause in emitting is
 * the time this takes (a glob of the inputs when they changed, else
 * microseconds).
 */
import type { ResolvedOptions } from '../config/options.js';
import type { ReloadPlan, ReloadableKey } from '../config/reload.js';
import type { DedupTable } from '../dedup/table.js';
import type { Logger } from '../metrics/logger.js';
import type { FileDiscovery } from '../sources/discovery.js';
import type { IgnoreOlder } from '../sources/ignore-older.js';
import type { BatchScheduler } from '../modes/batch-scheduler.js';
import type { Checkpointer } from './checkpointer.js';
import type { LiveLane } from './live-lane.js';
import type { Pipeline } from './pipeline.js';

/** What Engine.reload() did. */
export interface ReloadResult {
  /** Option keys whose new value is now in force (empty: the new options changed nothing). */
  applied: ReloadableKey[];
  /** Files that the added inputs matched, now read as files present at start-up are (from their start, or where a checkpoint or an earlier reload left them). */
  filesAdded: string[];
  /** Files no input matches any more: followed no further once their planned ranges are emitted (their offsets are kept). */
  filesReleased: string[];
  /** How long applying it held the engine's main thread (nothing is emitted meanwhile), in ms. */
  pauseMs: number;
}

/** The running stages a reload reaches. */
export interface ReloadTargets {
  readonly dedup: DedupTable | undefined;
  readonly checkpointer: Checkpointer | undefined;
  readonly discovery: FileDiscovery | undefined;
  readonly pipeline: Pipeline | undefined;
  readonly ignoreOlder: IgnoreOlder | undefined;
  /** The engine's own logger; undefined when the caller gave one (its level is the caller's to set). */
  readonly ownLogger: Logger | undefined;
  /** A file an added input matched: read it as a newly discovered file; false when it is not read (an output of the engine, or older than ignoreOlder). */
  addFound(path: string): boolean;
  /** The batch clock running now (legacy mode, or hybrid's batch path), if any. A switch of mode is the engine's to make, after this. */
  batchClock(): BatchScheduler | undefined;
  /** Every pipeline planning ranges now (the live one, hybrid's batch path). */
  pipelines(): Pipeline[];
  readonly liveLane: LiveLane | undefined;
  /** Parse on this many threads from the next range planned on (ranges in flight finish on theirs); the pipelines' range buffers follow here. */
  resizeWorkers(workers: number): void;
}

export function applyReload(targets: ReloadTargets, plan: ReloadPlan, next: ResolvedOptions): Omit<ReloadResult, 'pauseMs'> {
  const changed = new Set(plan.changed);
  // Settings first: files the new inputs find are judged by the new ignoreOlder.
  if (changed.has('dedupWindow')) targets.dedup?.setWindow(next.dedupWindowMs);
  if (changed.has('ignoreOlder')) targets.ignoreOlder?.setLimit(next.ignoreOlderMs);
  if (changed.has('logLevel') && targets.ownLogger) targets.ownLogger.level = next.logLevel;
  // From the next range planned on; ranges in flight keep the sample they were sent with.
  if (changed.has('shadowSample')) for (const p of targets.pipelines()) p.setShadowSample(next.shadowSample);
  if (changed.has('canaryShare')) for (const p of targets.pipelines()) p.setCanaryShare(next.canaryShare);
  // Ranges the lane parsed are emitted as ever; from now on growth goes to the pool (or comes back).
  if (changed.has('liveLane') && targets.liveLane) targets.liveLane.enabled = next.liveLane;
  if (changed.has('workers')) {
    targets.resizeWorkers(next.workers);
    for (const p of targets.pipelines()) p.setWorkers(next.workers);
  }
  // A batch path a switch to hybrid makes later reads the new options itself.
  if (changed.has('batchEvery') || changed.has('batchDelay')) targets.batchClock()?.setTiming(next.batchEveryMs, next.batchDelayMs);
  targets.checkpointer?.setOptions(next);
  let filesAdded: string[] = [];
  let filesReleased: string[] = [];
  if (changed.has('input') && targets.discovery) {
    const { added, dropped } = targets.discovery.reconfigure(next.input);
    for (const path of dropped) targets.pipeline?.release(path);
    filesAdded = added.filter((path) => targets.addFound(path));
    filesReleased = dropped;
  }
  return { applied: [...plan.changed], filesAdded, filesReleased };
}
