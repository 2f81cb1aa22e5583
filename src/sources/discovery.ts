import { accessSync, constants, readdirSync, statSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type PicomatchModule from 'picomatch';
import type * as TinyglobbyModule from 'tinyglobby';
import { GLOB_SYNTAX } from '../config/glob-syntax.js';
import { inputStatus } from './input-check.js';

let picomatchModule: typeof PicomatchModule | undefined;
let tinyglobbyModule: typeof TinyglobbyModule | undefined;

/**
 * picomatch is loaded for the first pattern that is a glob, tinyglobby for
 * the first whose wildcards reach into directories (see singleDirectoryGlob):
 * each is a noticeable part of start-up (measured by hand, figures in
 * bench/RESULTS.md), and the common `--input FILE` needs neither. require()
 * keeps discovery synchronous (both ship CommonJS).
 */
function picomatch(): typeof PicomatchModule {
  return (picomatchModule ??= createRequire(import.meta.url)('picomatch') as typeof PicomatchModule);
}

function globSync(patterns: string[]): string[] {
  tinyglobbyModule ??= createRequire(import.meta.url)('tinyglobby') as typeof TinyglobbyModule;
  return tinyglobbyModule.globSync(patterns, { absolute: true, onlyFiles: true, dot: true });
}

/**
 * Load the glob libraries now and run one glob, so that their first use is
 * not a config reload adding the first glob pattern: loading and warming them
 * takes tens of ms on a busy machine, all of it on the thread that emits.
 */
export function warmGlobLibraries(): void {
  picomatch().scan('/nonexistent/*.ndjson');
  globSync(['/nonexistent-ordertail-warm-up/*.ndjson']);
}

/** A glob listed as one directory (see singleDirectoryGlob). */
interface SingleDirectoryGlob {
  readonly base: string;
  readonly matches: (path: string) => boolean;
}

/**
 * A glob whose wildcards are all in its last segment (`/var/log/orders/*.ndjson`,
 * the usual input): its files are the entries of one directory that its
 * matcher (the one the directory's watch uses) accepts, so it is listed with
 * one readdir instead of through tinyglobby, whose loading and first glob
 * are a noticeable part of a follower's start-up on the main thread
 * (bench/RESULTS.md, 2026-12-05). Anything else (wildcards or escapes in a
 * directory name, `**`, a brace holding a `/`, an extglob) is left to
 * tinyglobby. Unlike tinyglobby, a listed glob does not read into a symbolic
 * link to a directory whose name matches (`*.ndjson` never matches
 * `x.ndjson/y.ndjson`), as the directory's watch never would.
 */
function singleDirectoryGlob(pattern: string, matches: (path: string) => boolean): SingleDirectoryGlob | undefined {
  if (pattern.includes('\\')) return undefined;
  const { base, glob } = picomatch().scan(pattern);
  if (base === '' || GLOB_SYNTAX.test(base) || /[/(]|\*\*/.test(glob) || pattern !== `${base === '/' ? '' : base}/${glob}`) return undefined;
  return { base, matches };
}

/** The regular files (symbolic links followed) of `glob.base` it matches; none when the directory cannot be listed, as tinyglobby does. */
function listSingleDirectory(glob: SingleDirectoryGlob): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(glob.base, { withFileTypes: true });
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(glob.base, entry.name);
    if (!glob.matches(path)) continue;
    if (entry.isFile() || (entry.isSymbolicLink() && isRegularFile(path))) found.push(path);
  }
  return found;
}

/**
 * A regular file (symbolic links followed), as a glob with `onlyFiles` would
 * find it. A path that cannot be looked at (ELOOP, EACCES) is not one: it
 * must not throw out of a watch callback.
 */
function isRegularFile(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/**
 * Finds the files matching the input globs now, and announces files that start
 * matching later. New files are noticed through inotify on each glob's base
 * directory; a slow re-glob runs only where a watch could not be set up.
 */
export class FileDiscovery {
  private patterns: string[] = [];
  /** The patterns that are globs; the others are plain paths. */
  private globs: string[] = [];
  private matchers: ((path: string) => boolean)[] = [];
  /** Per glob: listed as one directory, or (undefined) by tinyglobby. */
  private listings = new Map<string, SingleDirectoryGlob | undefined>();
  /** One watch per (base directory, recursive), shared by the patterns under it. */
  private readonly watchers = new Map<string, FSWatcher>();
  /** The directory each watch was set on (`dev:ino`, symbolic links followed), or 'missing' while it is gone. */
  private readonly watchedDirs = new Map<string, string>();
  /** Looks every second whether a watched directory was removed, replaced, or switched (a symbolic link), see checkDirectories. */
  private dirCheckTimer: NodeJS.Timeout | undefined;
  /** Set by follow(): where newly matching paths go. */
  private onNew: ((path: string) => void) | undefined;
  private needPoll = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly known = new Set<string>();
  /** Glob base directories that cannot be listed (base → error code): files there cannot be found. */
  readonly unlisted = new Map<string, string>();
  /** Explicit inputs already reported as unusable (one warning each, until they change). */
  private readonly reported = new Map<string, string>();
  /** Known paths whose content changes are reported too (not only renames). */
  private wantsChanges: (path: string) => boolean = () => false;

  constructor(
    globs: readonly string[],
    /** `input`: an explicit input that is missing or not a regular file; `watch`: inotify could not be used. */
    private readonly onWarning: (message: string, about: 'input' | 'watch') => void = () => {},
    private readonly pollIntervalMs = 1000,
  ) {
    this.setPatterns(globs);
  }

  private setPatterns(globs: readonly string[]): void {
    // Normalised (`//`, `/./`, `..`, a trailing `/`), as the paths the watches
    // report are: a pattern is matched against them.
    this.patterns = [...new Set(globs.map((g) => resolve(g)))];
    this.globs = this.patterns.filter((p) => GLOB_SYNTAX.test(p));
    this.matchers = this.patterns.map((p) => (GLOB_SYNTAX.test(p) ? globMatcher(p) : (path: string) => path === p));
    this.listings = new Map(this.globs.map((g) => [g, singleDirectoryGlob(g, this.matchers[this.patterns.indexOf(g)]!)]));
  }

  /**
   * New input patterns (a config reload). Returns the known paths no pattern
   * matches any more (the caller stops following them) and the matching
   * files not known before (the caller reads them as new files). While
   * following, watches on new base directories are set up before those no
   * longer needed are closed, so no event of a kept pattern is missed.
   */
  reconfigure(globs: readonly string[]): { added: string[]; dropped: string[] } {
    const before = new Set(this.patterns);
    this.setPatterns(globs);
    const newPatterns = this.patterns.filter((p) => !before.has(p));
    const dropped: string[] = [];
    for (const path of this.known) {
      if (this.matchers.some((m) => m(path))) continue;
      this.known.delete(path);
      dropped.push(path);
    }
    if (this.onNew) {
      const wanted = new Set(this.patterns.map((p) => watchKey(p)));
      this.watchAll();
      for (const [key, watcher] of this.watchers) {
        if (wanted.has(key)) continue;
        watcher.close();
        this.watchers.delete(key);
      }
      for (const key of this.watchedDirs.keys()) if (!wanted.has(key)) this.watchedDirs.delete(key);
    }
    // Only the new patterns are looked for (a glob costs ms): the kept ones' files are known or reported by their watches.
    // After the watches: a file created meanwhile is either seen here or reported by them (the caller tells repeats by identity).
    const found = [...new Set(this.findAll(newPatterns))].sort();
    const added = found.filter((path) => !this.known.has(path));
    for (const path of added) this.known.add(path);
    this.checkGlobs(found, newPatterns.filter((p) => GLOB_SYNTAX.test(p)));
    return { added, dropped };
  }

  /** Every matching regular file right now, sorted by path; remembered as known. */
  scan(): string[] {
    const found = [...new Set(this.findAll())].sort();
    for (const path of found) this.known.add(path);
    this.checkGlobs(found);
    return found;
  }

  /**
   * Every matching file right now. While following, the watches keep the
   * known paths current (a path deleted between its event and now is still
   * listed: callers stat what they take), so no directory is listed: a glob
   * costs milliseconds of the main thread, and hybrid mode's batch clock asks
   * twice a second beside the live lane. Otherwise, a scan().
   */
  current(): string[] {
    return this.onNew ? [...this.known] : this.scan();
  }

  /**
   * The glob library skips a directory it may not list without a word, and a
   * glob that matches nothing looks like an empty input: say so, once each.
   */
  private checkGlobs(found: readonly string[], globs: readonly string[] = this.globs): void {
    for (const pattern of globs) {
      const base = picomatch().scan(pattern).base || '.';
      let problem: string | undefined;
      try {
        accessSync(base, constants.R_OK | constants.X_OK);
      } catch (err) {
        problem = (err as NodeJS.ErrnoException).code ?? String(err);
      }
      if (problem && problem !== 'ENOENT') {
        if (!this.unlisted.has(base)) this.onWarning(`input ${pattern}: cannot list ${base} (${problem}); files matching there are not found`, 'input');
        this.unlisted.set(base, problem);
        continue;
      }
      this.unlisted.delete(base);
      const matcher = globMatcher(pattern);
      if (!found.some((p) => matcher(p)) && this.reported.get(pattern) !== 'no match') {
        this.onWarning(`input ${pattern} matches no file${problem === 'ENOENT' ? ` (${base} does not exist)` : ''}`, 'input');
        this.reported.set(pattern, 'no match');
      }
    }
  }

  private findAll(patterns: readonly string[] = this.patterns): string[] {
    const plain = patterns.filter((p) => !GLOB_SYNTAX.test(p) && this.plainUsable(p));
    const globs = patterns.filter((p) => GLOB_SYNTAX.test(p));
    if (globs.length === 0) return plain;
    const found = plain;
    const elsewhere: string[] = [];
    for (const pattern of globs) {
      // A file named with glob characters (`report (1).ndjson`, `orders[2026].ndjson`) is what the pattern names.
      if (isRegularFile(pattern)) found.push(pattern);
      const listing = this.listings.get(pattern);
      if (listing) found.push(...listSingleDirectory(listing));
      else elsewhere.push(pattern);
    }
    if (elsewhere.length > 0) found.push(...globSync(elsewhere));
    return found;
  }

  /**
   * An explicit input that is a regular file, or that could not be looked at
   * (EACCES, ELOOP: the caller's open reports and retries it). A missing path,
   * a directory or a FIFO is warned about once and waited on: a regular file
   * may appear there (the directory is watched).
   */
  private plainUsable(path: string): boolean {
    const status = inputStatus(path);
    if (status.kind === 'not-file' || status.kind === 'missing') {
      const what = status.kind === 'missing' ? 'missing' : status.what;
      if (this.reported.get(path) !== what) {
        this.onWarning(
          status.kind === 'missing'
            ? `input ${path} does not exist (yet); waiting for it`
            : `input ${path} is ${status.what}, not a regular file; not read (waiting for a regular file there)`,
          'input',
        );
      }
      this.reported.set(path, what);
      return false;
    }
    this.reported.delete(path);
    return true;
  }

  /**
   * Call `onPath(path)` for each file that starts matching from now on, and
   * again whenever a known path is renamed, created or deleted (rotation: the
   * caller compares identities, a path alone says nothing). Content changes
   * of a known path are reported only where `wantsChanges(path)` says so.
   */
  follow(onNew: (path: string) => void, wantsChanges: (path: string) => boolean = () => false): void {
    this.wantsChanges = wantsChanges;
    this.onNew = onNew;
    this.watchAll();
    this.dirCheckTimer = setInterval(() => this.checkDirectories(), this.pollIntervalMs);
    this.dirCheckTimer.unref();
  }

  /**
   * An inotify watch stays on the directory it was set on: removed and made
   * again (a deploy script, a remount), or replaced by switching a symbolic
   * link (`logs -> releases/42/logs`), the directory at the path is another
   * one, and files created in it would never be announced. Such a directory
   * is watched anew and listed, every matching path announced (the caller
   * tells new files, and a known path now naming another file, by identity);
   * while it is gone, nothing is watched there and it is looked for again.
   */
  private checkDirectories(): void {
    if (!this.onNew) return;
    for (const [key, seen] of this.watchedDirs) {
      const base = key.slice(2);
      const now = directoryIdentity(base);
      if (now === seen || (now === undefined && seen === 'missing')) continue;
      this.watchers.get(key)?.close();
      this.watchers.delete(key);
      if (now === undefined) {
        this.onWarning(`input directory ${base} was removed; files created there are picked up once it is back`, 'watch');
        this.watchedDirs.set(key, 'missing');
        continue;
      }
      this.watchedDirs.delete(key);
      this.watchAll();
      const under = this.patterns.filter((p) => watchKey(p) === key);
      for (const path of new Set(this.findAll(under))) {
        this.known.add(path);
        this.onNew(path);
      }
    }
  }

  /** A watch on every pattern's base directory that has none yet. */
  private watchAll(): void {
    const onNew = this.onNew!;
    for (const pattern of this.patterns) {
      const key = watchKey(pattern);
      // A directory that was removed is looked for by checkDirectories, not polled for.
      if (this.watchers.has(key) || this.watchedDirs.get(key) === 'missing') continue;
      const { base, recursive } = watchTarget(pattern);
      // Every append to a followed file in `base` comes here too (as 'change'):
      // its path is joined once, not on each of those events.
      const paths = new Map<string, string>();
      try {
        const watcher = watch(base, { recursive, persistent: false }, (event, name) => {
          if (!name) return;
          const entry = name.toString();
          let path = paths.get(entry);
          if (path === undefined) {
            if (paths.size >= JOINED_PATHS_MAX) paths.clear();
            paths.set(entry, (path = join(base, entry)));
          }
          this.consider(path, event, onNew);
        });
        watcher.on('error', (err) => {
          this.onWarning(`watching ${base} failed (${err.message}); polling for new files instead`, 'watch');
          this.startPolling(onNew);
        });
        this.watchers.set(key, watcher);
        this.watchedDirs.set(key, directoryIdentity(base) ?? 'missing');
      } catch (err) {
        this.onWarning(`cannot watch ${base} (${(err as NodeJS.ErrnoException).code ?? String(err)}); polling for new files instead`, 'watch');
        this.needPoll = true;
      }
    }
    if (this.needPoll) this.startPolling(onNew);
  }

  private consider(path: string, event: string, onNew: (path: string) => void): void {
    if (this.known.has(path)) {
      // Appends to followed files arrive here too, as 'change': their own watches handle those.
      if (event === 'rename' || this.wantsChanges(path)) {
        // Gone (rotated away, deleted): no longer known, so current() does not keep
        // listing it, and a file created under the name later is new here again.
        if (event === 'rename' && !isRegularFile(path)) this.known.delete(path);
        onNew(path);
      }
      return;
    }
    if (!this.matchers.some((m) => m(path))) return;
    // A directory event can name a file that is already gone.
    if (!isRegularFile(path)) return;
    this.known.add(path);
    onNew(path);
  }

  private startPolling(onNew: (path: string) => void): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      const found = new Set(this.findAll().sort());
      // Without inotify, every matching path is looked at: the caller tells renames and rotations by identity.
      for (const path of found) {
        this.known.add(path);
        onNew(path);
      }
      for (const path of this.known) {
        if (!found.has(path)) {
          this.known.delete(path);
          onNew(path);
        }
      }
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.watchedDirs.clear();
    clearInterval(this.dirCheckTimer);
    this.onNew = undefined;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}

/**
 * A glob's matcher, which also takes the pattern as a plain path: a file
 * whose name holds glob characters (`report (1).ndjson` from a download,
 * `orders[2026-12-05].ndjson`) is given as it is named, and as a glob it would
 * match other names, or none.
 */
function globMatcher(pattern: string): (path: string) => boolean {
  const glob = picomatch()(pattern, { dot: true });
  return (path) => path === pattern || glob(path);
}

/** `dev:ino` of the directory at `path` (symbolic links followed), undefined when there is none. */
function directoryIdentity(path: string): string | undefined {
  try {
    const s = statSync(path, { bigint: true, throwIfNoEntry: false });
    return s?.isDirectory() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

/** Joined paths kept per watched directory (cleared when full: a cache, not a record of files). */
const JOINED_PATHS_MAX = 4096;

/** The directory a pattern's new files are noticed in, and whether its subdirectories count. */
function watchTarget(pattern: string): { base: string; recursive: boolean } {
  const base = GLOB_SYNTAX.test(pattern) ? picomatch().scan(pattern).base || '.' : dirname(pattern);
  return { base, recursive: pattern.slice(base.length).includes('**') };
}

function watchKey(pattern: string): string {
  const { base, recursive } = watchTarget(pattern);
  return `${recursive ? 'r' : 'n'}:${base}`;
}

/** The most recently modified of `paths`: at start-up, the file taken to be the live one. */
export function newestByMtime(paths: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestTime = -Infinity;
  for (const path of paths) {
    try {
      const t = statSync(path).mtimeMs;
      if (t > bestTime) {
        bestTime = t;
        best = path;
      }
    } catch {
      /* vanished between glob and stat */
    }
  }
  return best;
}
