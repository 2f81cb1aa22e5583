import { watch, type FSWatcher } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import picomatch from 'picomatch';
import { globSync } from 'tinyglobby';

/**
 * Finds the files matching the input globs now, and announces files that start
 * matching later. New files are noticed through inotify on each glob's base
 * directory; a slow re-glob runs only where a watch could not be set up.
 */
export class FileDiscovery {
  private readonly patterns: string[];
  private readonly matchers: ((path: string) => boolean)[];
  private readonly watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly known = new Set<string>();

  constructor(
    globs: readonly string[],
    private readonly onWarning: (message: string) => void = () => {},
    private readonly pollIntervalMs = 1000,
  ) {
    this.patterns = globs.map((g) => (isAbsolute(g) ? g : resolve(g)));
    this.matchers = this.patterns.map((p) => picomatch(p, { dot: true }));
  }

  /** Every matching regular file right now, sorted by path; remembered as known. */
  scan(): string[] {
    const found = globSync(this.patterns, { absolute: true, onlyFiles: true, dot: true });
    found.sort();
    for (const path of found) this.known.add(path);
    return found;
  }

  /** Call `onNew(path)` for each file that starts matching from now on. */
  follow(onNew: (path: string) => void): void {
    let needPoll = false;
    for (const pattern of this.patterns) {
      const base = picomatch.scan(pattern).base || '.';
      const recursive = pattern.slice(base.length).includes('**');
      try {
        const watcher = watch(base, { recursive, persistent: false }, (_event, name) => {
          if (name) this.consider(join(base, name.toString()), onNew);
        });
        watcher.on('error', (err) => {
          this.onWarning(`watching ${base} failed (${err.message}); polling for new files instead`);
          this.startPolling(onNew);
        });
        this.watchers.push(watcher);
      } catch (err) {
        this.onWarning(`cannot watch ${base} (${(err as NodeJS.ErrnoException).code ?? String(err)}); polling for new files instead`);
        needPoll = true;
      }
    }
    if (needPoll) this.startPolling(onNew);
  }

  private consider(path: string, onNew: (path: string) => void): void {
    if (this.known.has(path)) return;
    if (!this.matchers.some((m) => m(path))) return;
    // A directory event can name a file that is already gone; let the glob decide.
    const found = globSync([path.replace(/[*?[\]{}()!]/g, '\\$&')], { absolute: true, onlyFiles: true, dot: true });
    if (found.length === 0) return;
    this.known.add(path);
    onNew(path);
  }

  private startPolling(onNew: (path: string) => void): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      for (const path of globSync(this.patterns, { absolute: true, onlyFiles: true, dot: true }).sort()) {
        if (!this.known.has(path)) {
          this.known.add(path);
          onNew(path);
        }
      }
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
