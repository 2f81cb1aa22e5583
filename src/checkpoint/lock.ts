import { closeSync, fsyncSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { makeCheckpointDirectory } from './directory.js';
import { CheckpointLockedError, type LockHolder } from './errors.js';

export const LOCK_FILE = 'lock';
/** A lock file that cannot be parsed is a holder still writing it, unless it is older than this. */
const UNREADABLE_GRACE_MS = 5000;

interface LockContent extends LockHolder {
  /** The holder's start time in clock ticks since boot (/proc/PID/stat field 22): a reused pid has another. */
  startTicks: string | undefined;
}

/** Start time of a process, or undefined when it does not exist (or /proc cannot tell). */
function startTicksOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(holder: LockContent): boolean {
  if (holder.host !== hostname()) return true; // cannot tell from here: assume it runs
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const ticks = startTicksOf(holder.pid);
  return holder.startTicks === undefined || ticks === undefined || ticks === holder.startTicks;
}

function readHolder(path: string): LockContent | 'unreadable' | 'gone' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockContent>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return { pid: parsed.pid, host: parsed.host, since: String(parsed.since ?? '?'), startTicks: parsed.startTicks };
    }
  } catch {
    /* a holder between create and write, or garbage */
  }
  return 'unreadable';
}

/**
 * One engine per checkpoint directory: an O_EXCL lock file naming the holder
 * (pid, host, start time). A lock left by a process that is gone (kill -9, a
 * crash; or a reused pid, told apart by its start time) is stale and taken
 * over with a warning. flock would need the native addon, which is optional.
 */
export class CheckpointLock {
  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  static acquire(dir: string, warn: (message: string) => void): CheckpointLock {
    makeCheckpointDirectory(dir);
    const path = join(dir, LOCK_FILE);
    const mine: LockContent = { pid: process.pid, host: hostname(), since: new Date().toISOString(), startTicks: startTicksOf(process.pid) };
    const content = JSON.stringify(mine) + '\n';
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
        const holder = readHolder(path);
        if (holder === 'gone') continue;
        if (holder === 'unreadable') {
          const age = Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0);
          if (age < UNREADABLE_GRACE_MS) throw new CheckpointLockedError(path, { pid: 0, host: 'unknown', since: 'a moment ago (its lock file is being written)' });
          warn(`checkpoint lock ${path} cannot be read and is ${Math.round(age / 1000)} s old: taking it over`);
        } else if (alive(holder)) {
          throw new CheckpointLockedError(path, holder);
        } else {
          warn(`checkpoint lock ${path} was left by pid ${holder.pid} (since ${holder.since}), which is no longer running: taking it over`);
        }
        rmSync(path, { force: true });
        continue;
      }
      try {
        writeSync(fd, content);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return new CheckpointLock(path, content);
    }
  }

  /** Remove the lock file if it is still this process's. */
  release(): void {
    try {
      if (readFileSync(this.path, 'utf8') === this.content) rmSync(this.path, { force: true });
    } catch {
      /* already gone */
    }
  }
}
