/*
 * Hybrid mode's batch path as one unit: its own pipeline (closed files read
 * whole, not checkpointed) and the batch clock that hands it files. Made at
 * start-up in hybrid mode, or by a switch to hybrid at a config reload, and
 * stopped by a switch back to realtime or at the engine's stop.
 */
import type { BatchScheduler } from '../modes/batch-scheduler.js';
import type { Pipeline } from './pipeline.js';

export class BatchPath {
  constructor(
    readonly pipeline: Pipeline,
    readonly scheduler: BatchScheduler,
  ) {}

  start(onBatch: (paths: string[]) => void): void {
    this.pipeline.startupComplete();
    this.scheduler.start(onBatch);
  }

  /**
   * No more files are taken; the ranges already planned are emitted (their
   * records go through the one dedup table as ever). Files it was partway
   * through are not read further: the batch path promises nothing (it is not
   * checkpointed), the live path promises every record.
   */
  async stop(): Promise<void> {
    this.scheduler.stop();
    await this.pipeline.drain();
  }

  close(): void {
    this.pipeline.close();
  }
}
