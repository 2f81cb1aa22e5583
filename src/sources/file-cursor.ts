import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { ArrayPhase, Framing, type FramingMode } from '../parser/contract.js';
import { byteOrderMarkLength } from '../parser/byte-order-mark.js';
import { FINGERPRINT_BYTES, headAfterGrowth, headOf, identityOfFd, isCompleteHead, startsWith, type FileHead, type Fingerprint } from '../checkpoint/identity.js';
import type { ResumePoint } from '../checkpoint/manifest.js';
import type { FdBudget } from './fd-budget.js';
import { OrdertailError } from '../errors.js';

/** Where a newly opened file begins: its start, its end (--from end), or a checkpoint's resume point. */
export type StartAt = { kind: 'start' } | { kind: 'end' } | { kind: 'resume'; point: ResumePoint };

/** The file at the cursor's path is no longer the file it was reading (rotated while its fd was closed). */
export class IdentityLostError extends OrdertailError {
  readonly code = 'ORDERTAIL_INPUT_IDENTITY_LOST' as const;
  override readonly name = 'IdentityLostError';
}

const LF = 0x0a;
const PROBE_BYTES = 64 * 1024;

/** What the planner needs to cut one range (the scheduler adds id, fd and buffer). */
export interface PlannedRange {
  seq: number;
  start: number;
  end: number;
  hardEnd: number;
  final: boolean;
  framing: FramingMode;
  carryPhase: number;
  skipFirstPartial: boolean;
  skipUntilNewline: boolean;
  /** Part of the sequential chain (consumedEnd feeds the next range). */
  chain: boolean;
  /** A window over preallocated space being written in place: its first NUL byte ends what is written (RangeTask.overUnwritten). */
  overUnwritten?: boolean;
}

/** Bytes looked at where preallocated space starts: a record written over it changes the first of them. */
const UNWRITTEN_PROBE_BYTES = 16;
/**
 * How far past the start of preallocated space a read over it goes: records
 * written in place since the last look, mostly a few; more continue in the
 * next window, so a look never reads the whole space (regions of 32 MiB).
 */
const UNWRITTEN_WINDOW_BYTES = 32 * 1024;
/**
 * A gap in preallocated space with records after it is a store in progress
 * (read half done) until it has stayed NUL this long; then it is a hole (a
 * writer that stopped mid-store and went on past it) and read over as padding.
 */
const GAP_PATIENCE_MS = 500;

/**
 * Reading state of one file. Existing content (up to its last newline) is
 * "history", cut into independent ranges that workers parse in parallel; what
 * follows is the "chain": sequential ranges, each starting where the previous
 * one stopped consuming (a partial last line waits for its newline there).
 * Range sequence numbers fix the emission order: history first, then chain.
 */
export class FileCursor {
  private fdNumber = -1;
  readonly framing: FramingMode;
  /** `dev:ino` (see checkpoint/identity.ts). */
  readonly identity: string;
  /** Hashes of the first bytes (identity.ts FileHead), taken at open and after growth. */
  private head: FileHead;
  /** The head's bytes, once they are whole (identity.ts isCompleteHead) and the file has grown while followed. */
  private headCopy: Buffer | undefined;
  /** Records before this point are emitted (durably, once the sink has flushed). */
  committed: ResumePoint;
  /** No longer at any matched path (renamed away or replaced): drained, then let go. */
  detached = false;
  /** Truncated in place: no more planning; re-read from 0 once in-flight ranges are out. */
  truncated = false;
  /** A byte copy of another followed file (copytruncate); not read unless the original is truncated. */
  copyOf: FileCursor | undefined;
  /** When the size last changed (performance.now ms). */
  lastChangeAt: number;
  live = false;
  /** Largest event time of this file's keyed records emitted so far (EmitStage). */
  maxEventTime = Number.NEGATIVE_INFINITY;
  /** Its records emitted and rejected until its first record (EmitStage's RecordTally). */
  recordsAccepted = 0;
  recordsRejected = 0;
  notRecordsSettled = false;
  /** Size last seen by fstat, and when growth to it was first seen (performance.now ms). */
  observedSize: number;
  observedAt: number;

  private historyNextIndex = 0;
  private readonly historyRanges: number;
  private readonly historyStart: number;
  private readonly historyEnd: number;
  private historyFirstSkip = false;
  private chainOffset: number;
  private chainScannedTo: number;
  private chainBusy = false;
  private chainCarry: number = ArrayPhase.BeforeArray;
  private chainSkipping = false;
  /**
   * Where the NULs the file ends in start (RangeOutcome.unwrittenFrom): space
   * its writer preallocated and writes over in place, in order. Looked at
   * again by lookAtUnwritten(); read a window at a time (UNWRITTEN_WINDOW_BYTES).
   * `gapSince`: since when the NULs there have had written bytes after them.
   */
  private unwritten: { from: number; gapSince?: number } | undefined;
  /** The next window over the space reads over a gap that stayed unwritten (GAP_PATIENCE_MS). */
  private readOverGap = false;
  /** The file's size when the chain range in flight was planned. */
  private chainPlanSize = 0;
  /** The file was cut while a chain range was in flight (trimUnwritten): look again once it is back. */
  private rescanAfterRange = false;
  private readonly probe = new Uint8Array(UNWRITTEN_PROBE_BYTES);
  /** grewPastDocument was said (once per file). */
  documentGrowthSaid = false;
  /** Let go soon (renamed away or deleted, and quiet): its last line, newline or not, is a record (finish()). */
  private finishing = false;
  /** Array/Single files are whole documents: read once, to their size at discovery. */
  private readonly documentEnd: number | undefined;
  private nextSeq: number;
  outstanding = 0;
  emitSeq = 0;

  constructor(
    readonly id: number,
    public path: string,
    private readonly rangeBytes: number,
    start: StartAt,
    now: number,
    private readonly fds: FdBudget,
    /** An fd already open on the file (identity checked by the caller). */
    openFd?: number,
  ) {
    this.fdNumber = openFd ?? openSync(path, 'r');
    this.fds.opened(this);
    const seen = identityOfFd(this.fdNumber);
    this.identity = seen.key;
    this.head = headOf(this.fdNumber);
    const size = seen.size;
    this.observedSize = size;
    this.observedAt = now;
    this.lastChangeAt = now;
    this.framing = extname(path).toLowerCase() === '.json' ? this.sniffDocumentFraming(size) : Framing.Lines;
    const resume = start.kind === 'resume' ? start.point : undefined;
    if (this.framing !== Framing.Lines) {
      this.documentEnd = size;
      this.historyStart = 0;
      this.historyEnd = 0;
      this.chainOffset = resume ? Math.min(resume.offset, size) : 0;
      this.chainCarry = resume ? resume.carryPhase : ArrayPhase.BeforeArray;
    } else {
      // History ends at the last newline; a partial last line belongs to the
      // chain, which waits for its newline (with --from end it is the one line
      // in flight at start-up, kept rather than cut in half).
      const lastLineStart = this.afterLastNewline(size);
      this.historyStart = resume ? Math.min(resume.offset, lastLineStart) : 0;
      this.historyEnd = start.kind === 'end' ? 0 : lastLineStart;
      this.historyFirstSkip = resume?.skipPartial ?? false;
      this.chainOffset = resume ? Math.max(resume.offset, lastLineStart) : lastLineStart;
      // A resume point past the last newline: the chain starts there (mid-line only while skipping a too-large record).
      if (resume && resume.offset > lastLineStart) this.chainSkipping = resume.skipPartial;
    }
    this.chainScannedTo = this.chainOffset;
    const offset = start.kind === 'end' ? this.chainOffset : resume ? resume.offset : 0;
    this.committed = { offset, skipPartial: resume?.skipPartial ?? false, carryPhase: this.chainCarry };
    this.historyRanges = Math.max(0, Math.ceil((this.historyEnd - this.historyStart) / rangeBytes));
    this.nextSeq = this.historyRanges;
  }

  /** The open descriptor, reopened (within the budget) when it was closed to save descriptors. */
  get fd(): number {
    if (this.fdNumber < 0) this.reopen();
    this.fds.touch(this);
    return this.fdNumber;
  }

  get isOpen(): boolean {
    return this.fdNumber >= 0;
  }

  private reopen(): void {
    const fd = openSync(this.path, 'r');
    if (identityOfFd(fd).key !== this.identity) {
      closeSync(fd);
      throw new IdentityLostError(`${this.path} is no longer the file that was being read (rotated while its descriptor was closed)`);
    }
    this.fdNumber = fd;
    this.fds.opened(this);
  }

  /** Close the descriptor to stay under the budget (only when nothing is in flight). */
  closeFd(): void {
    if (this.fdNumber < 0) return;
    closeSync(this.fdNumber);
    this.fdNumber = -1;
    this.fds.closed(this);
  }

  /** Ranges are out reading this file: its descriptor must stay open. */
  get busy(): boolean {
    return this.outstanding > 0;
  }

  /** Advance the committed point past an emitted range. */
  markEmitted(range: PlannedRange, consumedEnd: number, carryPhase: number, skipUntilNewline: boolean): void {
    if (range.chain) {
      this.committed = { offset: consumedEnd, skipPartial: skipUntilNewline, carryPhase };
    } else {
      // The next history range starts mid-record unless a record starts exactly there.
      this.committed = { offset: range.end, skipPartial: true, carryPhase: 0 };
    }
  }

  get fingerprint(): Fingerprint {
    return this.head.fingerprint;
  }

  /**
   * What a checkpoint (or a file let go) knows the file by: its fingerprint,
   * or for a head with NULs (preallocated space) the part before them, which
   * records written over the space since do not change.
   */
  get lastingFingerprint(): Fingerprint {
    return this.head.written;
  }

  /** Hash of the first LEAD_BYTES bytes (undefined while shorter): what copy detection looks candidates up by (FileSet). */
  get lead(): string | undefined {
    return this.head.lead;
  }

  /** Re-hash the first bytes while the file is still shorter than the fingerprint. */
  refreshFingerprint(): void {
    if (this.head.fingerprint.bytes >= FINGERPRINT_BYTES || this.fdNumber < 0) return;
    // A whole JSON document's growth is named, not read: a restart resumes past it too.
    if (this.framing !== Framing.Lines) this.head = headOf(this.fdNumber);
    // A head that changed keeps the old fingerprint: a restart then reads the file again.
    else this.head = headAfterGrowth(this.fdNumber, this.head)?.head ?? this.head;
  }

  /**
   * After growth: do the file's first bytes still read as when it was opened?
   * Not when it was overwritten, or truncated and written past the size last
   * seen before the truncation could be seen: reading on from the old offset
   * would start inside other records (and lose those before). NULs it had
   * may have been written over (identity.ts FileHead). Also grows the
   * fingerprint of a file still shorter than it.
   */
  headUnchanged(): boolean {
    // A whole JSON document is read once: its growth is named, not followed (grewPastDocument).
    if (this.fdNumber < 0 || this.framing !== Framing.Lines) return true;
    if (this.headCopy) return startsWith(this.fdNumber, this.headCopy);
    const now = headAfterGrowth(this.fdNumber, this.head);
    if (!now) return false;
    this.head = now.head;
    // Checked by hash once; from now on by compare (a file appended to side by side with thousands is checked per append).
    if (isCompleteHead(now.head)) this.headCopy = now.bytes;
    return true;
  }

  /** `[` first → a streamed array of records; anything else → one record. */
  private sniffDocumentFraming(size: number): FramingMode {
    const probe = new Uint8Array(Math.min(size, 4096));
    const n = readSync(this.fdNumber, probe, 0, probe.length, 0);
    for (let i = byteOrderMarkLength(probe, n, 0); i < n; i++) {
      const b = probe[i]!;
      if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
      return b === 0x5b ? Framing.Array : Framing.Single;
    }
    return Framing.Single;
  }

  /** Position just past the last LF before `size` (0 when there is none). */
  private afterLastNewline(size: number): number {
    const probe = new Uint8Array(PROBE_BYTES);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - PROBE_BYTES);
      const n = readSync(this.fdNumber, probe, 0, end - start, start);
      const i = probe.subarray(0, n).lastIndexOf(LF);
      if (i >= 0) return start + i + 1;
      end = start;
    }
    return 0;
  }

  get hasHistoryLeft(): boolean {
    return this.historyNextIndex < this.historyRanges && !this.truncated && !this.copyOf;
  }

  /** Bytes whose records have been emitted (or skipped by --from end). */
  get emittedBytes(): number {
    return this.committed.offset;
  }

  /** The next parallel history range, if any. */
  nextHistoryRange(): PlannedRange | undefined {
    if (!this.hasHistoryLeft) return undefined;
    const k = this.historyNextIndex++;
    const start = this.historyStart + k * this.rangeBytes;
    this.outstanding++;
    return {
      seq: k,
      start,
      end: Math.min(start + this.rangeBytes, this.historyEnd),
      hardEnd: this.historyEnd,
      final: true,
      framing: Framing.Lines,
      carryPhase: 0,
      skipFirstPartial: k > 0 || this.historyFirstSkip,
      skipUntilNewline: false,
      chain: false,
    };
  }

  /** nextChainRange() would give a range now. */
  get hasChainRange(): boolean {
    if (this.chainBusy || this.truncated || this.copyOf) return false;
    return (this.documentEnd ?? this.observedSize) > this.chainScannedTo;
  }

  /** The next sequential range, when there are unread bytes and none is in flight. */
  nextChainRange(once: boolean): PlannedRange | undefined {
    if (!this.hasChainRange) return undefined;
    const size = this.documentEnd ?? this.observedSize;
    let limit = size;
    // Written over in place: a window past where the space starts, not the whole space again.
    // Over a gap that stayed unwritten: to the end, as padding (the records after it may be far).
    const overUnwritten = this.unwritten !== undefined && !once && !this.finishing && !this.readOverGap;
    if (overUnwritten) limit = Math.min(size, Math.max(this.chainOffset, this.unwritten!.from) + UNWRITTEN_WINDOW_BYTES);
    this.readOverGap = false;
    this.chainPlanSize = size;
    this.chainBusy = true;
    this.outstanding++;
    const document = this.documentEnd !== undefined;
    return {
      seq: this.nextSeq++,
      start: this.chainOffset,
      end: document ? limit : Math.min(limit, this.chainOffset + this.rangeBytes),
      hardEnd: limit,
      final: document || once || this.finishing,
      framing: this.framing,
      carryPhase: this.chainCarry,
      skipFirstPartial: false,
      skipUntilNewline: this.chainSkipping,
      chain: true,
      ...(overUnwritten ? { overUnwritten } : {}),
    };
  }

  /**
   * The file will not grow any more (renamed away or deleted, and quiet long
   * enough to be let go): bytes after its last newline are its last record,
   * not the start of one still being written, so they are read once more as
   * final (emitted, or rejected and counted) rather than dropped with the
   * file. Returns whether such bytes wait (a final range is then planned).
   */
  finish(): boolean {
    if (this.finishing || this.framing !== Framing.Lines || this.truncated || this.copyOf || this.chainOffset >= this.observedSize) return false;
    this.finishing = true;
    this.chainScannedTo = this.chainOffset;
    return true;
  }

  /** Record where a range stopped; chain ranges move the chain forward. */
  complete(range: PlannedRange, consumedEnd: number, carryPhase: number, skipUntilNewline: boolean, space?: { from: number; writtenAfter: boolean }): void {
    this.outstanding--;
    if (!range.chain) return;
    this.chainBusy = false;
    this.completeChain(range, consumedEnd, carryPhase, skipUntilNewline, space);
    if (this.rescanAfterRange) this.chainScannedTo = this.chainOffset;
    this.rescanAfterRange = false;
  }

  private completeChain(range: PlannedRange, consumedEnd: number, carryPhase: number, skipUntilNewline: boolean, space?: { from: number; writtenAfter: boolean }): void {
    if (space !== undefined || (this.unwritten && range.hardEnd < this.chainPlanSize)) {
      this.chainOffset = consumedEnd;
      this.chainCarry = carryPhase;
      this.chainSkipping = skipUntilNewline;
      if (space) {
        // The writer stores in order: nothing past the space's start is looked at until it changes there.
        const since = space.from === this.unwritten?.from ? this.unwritten.gapSince : undefined;
        this.unwritten = { from: space.from, gapSince: space.writtenAfter ? (since ?? performance.now()) : undefined };
        this.chainScannedTo = Math.max(range.hardEnd, this.chainPlanSize);
      } else {
        // A window over the space held records to its end: the space starts further on; the next window right away.
        this.unwritten = { from: range.hardEnd };
        this.chainScannedTo = consumedEnd;
      }
      return;
    }
    this.unwritten = undefined;
    const progressed = consumedEnd > this.chainOffset || skipUntilNewline !== this.chainSkipping;
    this.chainOffset = consumedEnd;
    this.chainCarry = carryPhase;
    this.chainSkipping = skipUntilNewline;
    // Cut short by the range size: more complete records wait right behind.
    // Otherwise everything up to hardEnd has been looked at; wait for growth.
    // (Array documents are read a buffer at a time, so they are always "cut short".)
    const cutShort =
      (range.end < range.hardEnd || range.framing === Framing.Array) && consumedEnd < range.hardEnd && progressed;
    this.chainScannedTo = cutShort ? consumedEnd : range.hardEnd;
  }

  /** Where the file's preallocated space (NULs to its end, not yet written over) starts; undefined when it has none. */
  get unwrittenFrom(): number | undefined {
    return this.unwritten?.from;
  }

  /**
   * Has the writer written over the preallocated space? (Asked on a change at
   * the same size, and by a timer: a memory-mapped writer's stores raise no
   * inotify event.) If so, the chain reads on from where it stands.
   */
  lookAtUnwritten(): boolean {
    if (!this.unwritten || this.chainBusy || this.fdNumber < 0) return false;
    if (!this.writtenAt(this.unwritten.from)) {
      // Written bytes at the end while the space's start is still NUL: a gap (a store half done, or a writer that went on past a hole).
      const tail = this.observedSize - UNWRITTEN_PROBE_BYTES;
      if (this.unwritten.gapSince === undefined && tail > this.unwritten.from && this.writtenAt(tail)) this.unwritten.gapSince = performance.now();
      const since = this.unwritten.gapSince;
      if (since === undefined || performance.now() - since < GAP_PATIENCE_MS) return false;
      this.readOverGap = true;
    }
    this.chainScannedTo = this.chainOffset;
    return true;
  }

  /** Any byte not NUL among the UNWRITTEN_PROBE_BYTES at `position`? */
  private writtenAt(position: number): boolean {
    const n = readSync(this.fdNumber, this.probe, 0, this.probe.length, position);
    for (let i = 0; i < n; i++) if (this.probe[i] !== 0) return true;
    return false;
  }

  /**
   * The file got shorter but not below where reading stands: its writer cut
   * off preallocated space it did not use (a memory-mapped appender closing
   * its file). Nothing read is gone; what was written over the space before
   * the cut is read. False (a truncation) otherwise.
   */
  trimUnwritten(size: number): boolean {
    if (!this.unwritten || size < this.chainOffset) return false;
    this.observedSize = size;
    this.chainPlanSize = Math.min(this.chainPlanSize, size);
    if (size <= this.unwritten.from) this.unwritten = undefined;
    // A window in flight ends where the file now does (range-parser.ts overUnwritten); then the chain reads on.
    if (this.chainBusy) this.rescanAfterRange = true;
    else this.chainScannedTo = this.chainOffset;
    return true;
  }

  /** A whole-document file (.json) that grew past the size it was read to (never read: documentEnd). */
  get grewPastDocument(): boolean {
    return this.documentEnd !== undefined && this.observedSize > this.documentEnd;
  }

  /** Nothing more to read now (for --once: the file is finished). */
  get idle(): boolean {
    if (this.outstanding > 0 || this.chainBusy) return false;
    if (this.truncated || this.copyOf) return true;
    if (this.hasHistoryLeft) return false;
    const limit = this.documentEnd ?? this.observedSize;
    return this.chainScannedTo >= limit;
  }


  /** fstat the file; returns true when it grew. */
  refreshSize(now: number): 'grew' | 'same' | 'shrank' {
    const size = fstatSync(this.fd).size;
    if (size > this.observedSize) {
      this.observedSize = size;
      this.observedAt = now;
      this.lastChangeAt = now;
      return 'grew';
    }
    if (size < this.observedSize) {
      this.lastChangeAt = now;
      return 'shrank';
    }
    return 'same';
  }

  /** Links left (0 once deleted); from the open descriptor. */
  links(): number {
    return fstatSync(this.fd).nlink;
  }

  /** Current size of the file (follows the inode even after a rename). */
  currentSize(): number {
    if (this.fdNumber < 0) return this.observedSize;
    try {
      return fstatSync(this.fdNumber).size;
    } catch {
      return this.observedSize;
    }
  }

  close(): void {
    this.closeFd();
  }
}
