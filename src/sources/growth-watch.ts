import { watch, type FSWatcher } from 'node:fs';

/**
 * Tells when a followed file may have grown. inotify (fs.watch) is the signal;
 * where it cannot be had (watch limit reached, unsupported filesystem) a slow
 * interval takes its place, and the caller's fstat decides what actually changed.
 */
export class GrowthWatch {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string,
    private readonly onSignal: () => void,
    private readonly onWarning: (message: string) => void,
    private readonly pollIntervalMs = 250,
  ) {
    try {
      this.watcher = watch(path, { persistent: false }, () => this.onSignal());
      this.watcher.on('error', (err) => this.fallBack(err.message));
    } catch (err) {
      this.fallBack((err as NodeJS.ErrnoException).code ?? String(err));
    }
  }

  private fallBack(reason: string): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) return;
    this.onWarning(`inotify unavailable for ${this.path} (${reason}); polling every ${this.pollIntervalMs} ms`);
    this.timer = setInterval(this.onSignal, this.pollIntervalMs);
    this.timer.unref();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
