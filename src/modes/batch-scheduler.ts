/*
 * Legacy mode's clock: what the hourly batch job did, on the engine's data
 * path. Every `batchEvery` it lists the inputs, takes the closed files no
 * batch took yet, and hands each to the pipeline once, to be read whole.
 * Remembering a file across restarts is the checkpoint's job: it holds the
 * file's offset at its end, so a file handed over again after a restart
 * yields nothing.
 */
import { closedFiles } from './closed-files.js';

export interface BatchSource {
  /** The files the inputs match now. */
  list(): string[];
  /** Read this file once, whole (the pipeline's start-up path). */
  take(path: string): void;
  /** Not yet (hybrid: the live path is still emitting it); a later batch asks again. Default: always ready. */
  ready?(path: string): boolean;
}

export class BatchScheduler {
  /** Identities (dev:ino) of files a batch took in this run. */
  private readonly taken = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private onBatch: ((paths: string[]) => void) | undefined;
  private batches = 0;

  constructor(
    private readonly source: BatchSource,
    private everyMs: number,
    private delayMs: number,
  ) {}

  /** One batch now: the closed files not taken yet. Returns their paths. */
  runBatch(nowMs = Date.now()): string[] {
    this.batches++;
    const ready = this.source.ready?.bind(this.source);
    const files = closedFiles(this.source.list(), this.taken, this.delayMs, nowMs).filter((f) => !ready || ready(f.path));
    for (const f of files) {
      this.taken.add(f.identity);
      this.source.take(f.path);
    }
    return files.map((f) => f.path);
  }

  /** A batch now, then one every `everyMs` until stop(). */
  start(onBatch: (paths: string[]) => void): void {
    this.onBatch = onBatch;
    onBatch(this.runBatch());
    this.tick();
  }

  private tick(): void {
    const onBatch = this.onBatch!;
    this.timer = setInterval(() => onBatch(this.runBatch()), this.everyMs);
    // The engine's own lifecycle keeps the process alive, not this clock.
    this.timer.unref();
  }

  /**
   * New timing (a config reload): the delay applies from the next batch on,
   * the period from now (the next batch comes one new period from now). Files
   * taken stay taken.
   */
  setTiming(everyMs: number, delayMs: number): void {
    this.delayMs = delayMs;
    if (everyMs === this.everyMs) return;
    this.everyMs = everyMs;
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.onBatch = undefined;
  }

  /** Batches run and files taken so far (this run). */
  stats(): { batches: number; filesTaken: number } {
    return { batches: this.batches, filesTaken: this.taken.size };
  }
}
