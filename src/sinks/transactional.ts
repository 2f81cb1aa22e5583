import type { CheckpointedFile } from '../checkpoint/manifest.js';
import type { Registry } from 'prom-client';
import type { Sink } from './sink.js';

/**
 * A sink that commits records and the input offsets they bring the engine to
 * in one transaction of its own (a database), so a restart resumes from what
 * the sink holds whatever the local checkpoint says. The engine calls
 * commitWith() at its checkpoint points, right after a flush, when the
 * offsets describe exactly the records written so far.
 */
export interface TransactionalSink extends Sink {
  readonly transactional: true;
  /** Connect and prepare; resolves to the offsets the sink committed last (undefined: none yet). */
  open(): Promise<CheckpointedFile[] | undefined>;
  /**
   * Commit everything written since the last commit together with `files`.
   * Resolves once that commit is under way, after the previous one has
   * landed (so the engine holds still while the sink cannot commit: the
   * backpressure); flush() waits for it. Rejects only on a failure no retry fixes.
   */
  commitWith(files: CheckpointedFile[]): Promise<void>;
  /** Set by the engine: the sink wants a commit soon (a batch is full, or has waited long enough). */
  onCommitWanted: (() => void) | undefined;
  /** Why it cannot take records now (undefined: it can). */
  notReadyReason(): string | undefined;
  /**
   * Stop waiting for the database (the engine is stopping and it stays
   * away): commits under way and records staged are dropped, which is safe
   * because the offsets live in the database and a restart reads them
   * again. Returns the failure saying what was dropped and why
   * (undefined: nothing was waiting); the sink takes nothing more.
   */
  abandon(why: string): Error | undefined;
  /**
   * Hand the keys it holds within `windowMs` of its newest event time to
   * `insert` (the dedup table), at most `limit`: a restart whose local
   * checkpoint does not describe the sink's moment still drops repeats of
   * keys written before it. Resolves to the keys handed over.
   */
  seedKeys?(windowMs: number, limit: number, insert: (hashLo: number, hashHi: number, times: Float64Array, index: number) => void): Promise<number>;
  /** Serve its metrics from the engine's registry (when a metrics server runs). */
  registerMetrics?(registry: Registry): Promise<void>;
}

export function isTransactional(sink: Sink | undefined): sink is TransactionalSink {
  return (sink as Partial<TransactionalSink> | undefined)?.transactional === true;
}
