import { watch, type FSWatcher } from 'node:fs';

/**
 * Files whose growth is noticed by stat polling because inotify could not
 * watch them (watch limit reached, unsupported filesystem). One timer for all
 * of them, and one warning for the engine, however many files fall back.
 */
export class PollGroup {
  private readonly members = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly onWarning: (message: string) => void,
    readonly intervalMs = 250,
  ) {}

  get size(): number {
    return this.members.size;
  }

  add(signal: () => void, path: string, reason: string): void {
    if (!this.warned) {
      this.warned = true;
      this.onWarning(
        `inotify unavailable for ${path} (${reason}); it and any other file that cannot be watched are polled every ${this.intervalMs} ms (raise fs.inotify.max_user_watches to avoid this)`,
      );
    }
    this.members.add(signal);
    if (!this.timer) {
      this.timer = setInterval(() => {
        for (const s of this.members) s();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  remove(signal: () => void): void {
    this.members.delete(signal);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    this.members.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Tells when a followed file may have changed (grown, shrunk, been renamed or
 * deleted). inotify (fs.watch, which follows the inode across renames) is the
 * signal; where it cannot be had, the shared PollGroup takes its place. The
 * caller's fstat decides what actually changed.
 */
export class GrowthWatch {
  private watcher: FSWatcher | undefined;
  private polled = false;

  constructor(
    readonly path: string,
    private readonly onSignal: () => void,
    private readonly polls: PollGroup,
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
    if (this.polled) return;
    this.polled = true;
    this.polls.add(this.onSignal, this.path, reason);
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.polled) this.polls.remove(this.onSignal);
    this.polled = false;
  }
}
