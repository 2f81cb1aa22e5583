/**
 * Turns paths into followed files: opens what discovery and the checkpoint
 * name, lets the file set (sources/file-set.ts) say what each one is, retries
 * opens that fail for a reason that may pass (and, with `once`, lists what
 * could never be read), waits for small new files to settle before
 * classifying them, and finds checkpointed files renamed while stopped. The
 * cursors it makes go to its host (the pipeline) to be read.
 */
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { findByIdentity, headOf, identityOfFd, identityOfPath } from '../checkpoint/identity.js';
import type { WarningCode } from '../engine/warnings.js';
import type { FdBudget } from './fd-budget.js';
import { FileCursor, type StartAt } from './file-cursor.js';
import { fingerprintMatches, isCopyOf, successorStart, type FileSet } from './file-set.js';
import { errnoCode, inputStatus, isTransientOpenError } from './input-check.js';
import { OpenRetries, type Unread } from './open-retry.js';
import { compressedMessage, compressionOf, foreignByteOrderMark, notUtf8Message } from './encoding-check.js';

/** How a file came to be added. */
export type AddReason = 'startup' | 'discovered';

/** A small new file is classified (new or copy) once it reaches the fingerprint size or stays unchanged this long. */
const SETTLE_MS = 300;
/** With `once`, opens retried this often (backoff 0.1 → 1.6 s, ~3 s in all) before an input is listed as unread. */
const ONCE_OPEN_ATTEMPTS = 5;

export interface OpenerHost {
  /** Reading is stopping: open nothing more. */
  isStopping(): boolean;
  /** Start reading a cursor just made. */
  register(file: FileCursor): void;
  /** Something changed that may let more be planned (a retry gave up, a file is ready). */
  schedule(): void;
  warn(message: string, code: WarningCode): void;
  info(message: string): void;
}

export class FileOpener {
  /** Inputs whose open failed for a reason that may pass: retried, never skipped. */
  private readonly retries: OpenRetries<{ reason: AddReason; fromEnd: boolean }>;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Small new files waiting to be classified (path → first seen). */
  private readonly settling = new Map<string, number>();
  /** Compressed files a glob matched (`dev:ino`): skipped, warned about once each. */
  private readonly compressedSkipped = new Set<string>();
  private nextFileId = 1;
  private readonly once: boolean;
  private readonly rangeBytes: number;

  constructor(
    options: { readonly once: boolean; readonly rangeBytes: number },
    private readonly set: FileSet,
    private readonly fds: FdBudget,
    private readonly host: OpenerHost,
  ) {
    this.once = options.once;
    this.rangeBytes = options.rangeBytes;
    this.retries = new OpenRetries(options.once ? ONCE_OPEN_ATTEMPTS : Infinity);
  }

  /** Opens still to be retried (a `once` run is not idle while any are). */
  get pendingRetries(): number {
    return this.retries.pendingCount;
  }

  close(): void {
    clearTimeout(this.retryTimer);
  }

  /**
   * A path matched the input: start reading the file there, or recognise it.
   * The same file (device + inode) under a new name is a rename; a different
   * file under a known name means the old one was rotated away or replaced
   * (it is drained, then let go); a byte copy of a followed file is a
   * copytruncate rotation (read only past where its original stood).
   */
  add(path: string, reason: AddReason, fromEnd = false): void {
    if (this.host.isStopping()) return;
    const seen = identityOfPath(path);
    if (!seen) {
      if (!this.cannotLook(path, reason, fromEnd)) this.pathGone(path);
      return;
    }
    const known = this.set.byId(seen.key);
    if (known) {
      this.set.moveTo(known, path, performance.now());
      return;
    }
    const atPath = this.set.atPath(path);
    if (atPath) this.set.detach(atPath, path, performance.now());
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      this.openFailed(path, errnoCode(err), reason, fromEnd);
      return;
    }
    const attempts = this.retries.settled(path);
    if (attempts > 0) this.host.info(`${path}: opened after ${attempts} failed attempt(s)`);
    const identity = identityOfFd(fd);
    if (this.set.byId(identity.key)) {
      closeSync(fd);
      return;
    }
    const compression = compressionOf(fd);
    if (compression) {
      closeSync(fd);
      this.settling.delete(path);
      // Said once per file: each change of it comes back here.
      if (!this.compressedSkipped.has(identity.key)) this.host.warn(compressedMessage(path, compression, true), 'ORDERTAIL_INPUT_COMPRESSED');
      this.compressedSkipped.add(identity.key);
      return;
    }
    const { fingerprint, lead } = headOf(fd);
    let start: StartAt = { kind: reason === 'startup' && fromEnd ? 'end' : 'start' };
    let copyOf: FileCursor | undefined;
    const checkpointed = this.set.takeCheckpointed(identity.key, fd, identity.size);
    if (checkpointed) {
      const { entry, point } = checkpointed;
      if (checkpointed.mismatch === 'replaced') this.host.warn(`${path}: same inode as checkpointed ${entry.path} but different content (inode reused); reading it from the start`, 'ORDERTAIL_INPUT_REPLACED');
      if (checkpointed.mismatch === 'truncated') this.host.warn(`${path} truncated while ordertail was stopped (${identity.size} bytes < checkpointed offset ${entry.offset}); reading it from the start`, 'ORDERTAIL_INPUT_TRUNCATED');
      if (point) start = { kind: 'resume', point };
      if (point && entry.copyOf) copyOf = this.set.byId(entry.copyOf);
      if (copyOf && !isCopyOf(fd, fingerprint, copyOf)) copyOf = undefined;
    } else {
      const retired = this.set.takeRetired(identity.key, fd);
      if (retired) {
        start = { kind: 'resume', point: retired };
      } else if (reason === 'discovered' && fingerprint.bytes < 1024 && !this.settled(path)) {
        // Still being written (a copy in progress looks like a small new file): look again shortly.
        closeSync(fd);
        return;
      } else {
        // Renamed over a file it begins as: that file's next version, read on past its end (or, other content, from the start).
        const replaced = this.set.replacedAt(path, identity.key);
        let resumeAt: number | undefined;
        if (replaced) resumeAt = successorStart(fd, identity.size, fingerprint, replaced);
        if (resumeAt === undefined) {
          copyOf = this.set.copyOrigin(fd, identity.size, fingerprint, identity.key, reason === 'discovered', lead);
          // A copy at the path of the file it copies replaced it (that file went before it was looked at): not a dormant copy.
          if (copyOf?.path === path) copyOf = undefined;
          else if (!copyOf) resumeAt = this.set.truncatedOrigin(fd, fingerprint);
        }
        if (resumeAt !== undefined) start = { kind: 'resume', point: { offset: Math.min(resumeAt, identity.size), skipPartial: false, carryPhase: 0 } };
      }
    }
    this.settling.delete(path);
    let file: FileCursor;
    try {
      file = new FileCursor(this.nextFileId++, path, this.rangeBytes, start, performance.now(), this.fds, fd);
    } catch (err) {
      closeSync(fd);
      this.openFailed(path, errnoCode(err), reason, fromEnd);
      return;
    }
    file.copyOf = copyOf;
    this.warnIfNotUtf8(path, fd, start);
    // Files present at start-up: only the newest is "live"; anything appearing later is.
    file.live = reason === 'discovered';
    this.host.register(file);
  }

  /**
   * A matched path that stat could not look at: true when it was taken care of
   * (retried, or listed as unread), false when it is simply not there.
   */
  private cannotLook(path: string, reason: AddReason, fromEnd: boolean): boolean {
    const status = inputStatus(path);
    if (status.kind === 'error') {
      this.openFailed(path, status.code, reason, fromEnd);
      return true;
    }
    // Node decodes file names as UTF-8: a name that is not comes back with U+FFFD and names no file.
    if (status.kind === 'missing' && path.includes('\uFFFD')) {
      this.giveUp(path, 'name is not valid UTF-8');
      return true;
    }
    return false;
  }

  /**
   * Opening an input failed. A transient reason (descriptors, permissions) is
   * retried with backoff and logged once; with `once`, anything else, or
   * attempts used up, lists the input as unread (the run then exits non-zero).
   * In follow mode every input is waited on: it may become readable.
   */
  private openFailed(path: string, code: string, reason: AddReason, fromEnd: boolean): void {
    // Gone between the glob (or stat) and the open: discovery announces it again if it comes back.
    if (code === 'ENOENT') {
      this.pathGone(path);
      return;
    }
    if (this.once && !isTransientOpenError(code)) {
      this.giveUp(path, code);
      return;
    }
    const { first, gaveUp } = this.retries.failed(path, code, { reason, fromEnd }, performance.now());
    if (gaveUp) this.host.warn(`cannot open ${path}: ${code}; gave up after ${ONCE_OPEN_ATTEMPTS} attempts, not read`, 'ORDERTAIL_INPUT_UNREADABLE');
    else if (first) this.host.warn(`cannot open ${path}: ${code}; retrying with backoff`, 'ORDERTAIL_INPUT_UNREADABLE');
    this.armRetry();
    if (gaveUp) this.host.schedule();
  }

  /** An input that cannot be read at all (a directory that cannot be listed): listed as unread. */
  markUnread(path: string, why: string): void {
    this.giveUp(path, why);
  }

  private giveUp(path: string, why: string): void {
    if (this.retries.unread.some((u) => u.path === path)) return;
    this.retries.giveUp(path, why);
    this.host.warn(`cannot read ${path}: ${why}; not read`, 'ORDERTAIL_INPUT_UNREADABLE');
  }

  private armRetry(): void {
    const dueAt = this.retries.nextDueAt;
    if (this.retryTimer || dueAt === undefined || this.host.isStopping()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const [path, { reason, fromEnd }] of this.retries.due(performance.now())) this.add(path, reason, fromEnd);
      this.armRetry();
      this.host.schedule();
    }, Math.max(0, dueAt - performance.now()));
  }

  /** Inputs that could not be read (with `once`: given up after retries, or unreadable by nature). */
  get unread(): Unread[] {
    return this.retries.unread;
  }

  /**
   * Checkpointed files no input path matched at start-up: most likely rotated
   * while ordertail was stopped (app.log → app.log.1 outside the glob). Look for
   * the same identity in the directory it was last seen in and read it to its
   * end; a file that cannot be found is reported, never silently dropped.
   */
  recoverMoved(): void {
    for (const entry of this.set.unmatched()) {
      if (entry.copyOf) {
        this.set.forgetCheckpointed(entry.identity);
        continue;
      }
      const found = findByIdentity(dirname(entry.path), entry.identity);
      if (!found) {
        this.set.forgetCheckpointed(entry.identity);
        this.host.warn(`${entry.path} (checkpointed at offset ${entry.offset}) is gone: deleted or moved out of ${dirname(entry.path)} while ordertail was stopped; anything written to it after the checkpoint is not read`, 'ORDERTAIL_CHECKPOINT_FILE_GONE');
        continue;
      }
      let fd: number;
      try {
        fd = openSync(found, 'r');
      } catch {
        continue;
      }
      if (identityOfFd(fd).key !== entry.identity || !fingerprintMatches(fd, entry.fingerprint)) {
        closeSync(fd);
        continue;
      }
      this.set.forgetCheckpointed(entry.identity);
      const file = new FileCursor(this.nextFileId++, found, this.rangeBytes, { kind: 'resume', point: entry }, performance.now(), this.fds, fd);
      this.host.warn(`${entry.path} was renamed to ${found} while ordertail was stopped: reading the rest of it (from offset ${entry.offset}), then letting it go`, 'ORDERTAIL_CHECKPOINT_FILE_MOVED');
      file.detached = true;
      this.host.register(file);
    }
  }

  /** A small new file waits to be classified: its content changes are worth a look. */
  isSettling(path: string): boolean {
    return this.settling.has(path);
  }

  /** Files registered so far (renames of a known file are not new files). */
  get fileCount(): number {
    return this.nextFileId - 1;
  }

  /** Follow a file from `offset` (a file skipped by ignoreOlder that changed). */
  addAt(path: string, offset: number): void {
    if (this.host.isStopping() || this.set.atPath(path)) return;
    this.reopenAt(path, { kind: 'resume', point: { offset, skipPartial: true, carryPhase: 0 } });
  }

  /** A small discovered file: settled once it has been seen for SETTLE_MS (then classified as it is). */
  private settled(path: string): boolean {
    const now = performance.now();
    const first = this.settling.get(path);
    if (first === undefined) {
      this.settling.set(path, now);
      setTimeout(() => {
        if (this.settling.has(path)) this.add(path, 'discovered');
      }, SETTLE_MS + 10).unref();
      return false;
    }
    return now - first >= SETTLE_MS;
  }

  /** A matched path disappeared (renamed or deleted): its file is detached until seen elsewhere. */
  pathGone(path: string): void {
    this.settling.delete(path);
    this.set.pathGone(path, performance.now());
  }

  /** Open `path` again as a new cursor starting at `start` (after a truncation; a skipped file that changed). */
  reopenAt(path: string, start: StartAt): void {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      // Not silently lost: retried like any input (as a new file at that path).
      this.openFailed(path, errnoCode(err), 'discovered', false);
      return;
    }
    let file: FileCursor;
    try {
      file = new FileCursor(this.nextFileId++, path, this.rangeBytes, start, performance.now(), this.fds, fd);
    } catch (err) {
      closeSync(fd);
      this.openFailed(path, errnoCode(err), 'discovered', false);
      return;
    }
    file.live = true;
    this.warnIfNotUtf8(path, fd, start);
    this.host.register(file);
  }

  /** A warning for a file whose start says it is not UTF-8, as it is opened to be read from its start (a resumed file was warned about before). */
  private warnIfNotUtf8(path: string, fd: number, start: StartAt): void {
    if (start.kind === 'resume' && start.point.offset > 0) return;
    const encoding = foreignByteOrderMark(fd);
    if (encoding) this.host.warn(notUtf8Message(path, encoding), 'ORDERTAIL_INPUT_NOT_UTF8');
  }
}
