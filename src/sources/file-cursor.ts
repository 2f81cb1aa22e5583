import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { ArrayPhase, Framing, type FramingMode } from '../parser/contract.js';

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
}

/**
 * Reading state of one file. Existing content (up to its last newline) is
 * "history", cut into independent ranges that workers parse in parallel; what
 * follows is the "chain": sequential ranges, each starting where the previous
 * one stopped consuming (a partial last line waits for its newline there).
 * Range sequence numbers fix the emission order: history first, then chain.
 */
export class FileCursor {
  readonly fd: number;
  readonly framing: FramingMode;
  live = false;
  /** Size last seen by fstat, and when growth to it was first seen (performance.now ms). */
  observedSize: number;
  observedAt: number;

  private historyNextIndex = 0;
  private readonly historyRanges: number;
  private readonly historyEnd: number;
  private chainOffset: number;
  private chainScannedTo: number;
  private chainBusy = false;
  private chainCarry: number = ArrayPhase.BeforeArray;
  private chainSkipping = false;
  /** Array/Single files are whole documents: read once, to their size at discovery. */
  private readonly documentEnd: number | undefined;
  private nextSeq: number;
  outstanding = 0;
  emitSeq = 0;
  /** Bytes whose records have been emitted (or skipped by --from end). */
  emittedBytes = 0;

  constructor(
    readonly id: number,
    readonly path: string,
    private readonly rangeBytes: number,
    fromEnd: boolean,
    now: number,
  ) {
    this.fd = openSync(path, 'r');
    const size = fstatSync(this.fd).size;
    this.observedSize = size;
    this.observedAt = now;
    this.framing = extname(path).toLowerCase() === '.json' ? this.sniffDocumentFraming(size) : Framing.Lines;
    if (this.framing !== Framing.Lines) {
      this.documentEnd = size;
      this.historyEnd = 0;
      this.chainOffset = 0;
    } else {
      // History ends at the last newline; a partial last line belongs to the
      // chain, which waits for its newline (with --from end it is the one line
      // in flight at start-up, kept rather than cut in half).
      const lastLineStart = this.afterLastNewline(size);
      this.historyEnd = fromEnd ? 0 : lastLineStart;
      this.chainOffset = lastLineStart;
    }
    this.chainScannedTo = this.chainOffset;
    this.emittedBytes = fromEnd ? this.chainOffset : 0;
    this.historyRanges = Math.ceil(this.historyEnd / rangeBytes);
    this.nextSeq = this.historyRanges;
  }

  /** `[` first → a streamed array of records; anything else → one record. */
  private sniffDocumentFraming(size: number): FramingMode {
    const probe = new Uint8Array(Math.min(size, 4096));
    const n = readSync(this.fd, probe, 0, probe.length, 0);
    for (let i = 0; i < n; i++) {
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
      const n = readSync(this.fd, probe, 0, end - start, start);
      const i = probe.subarray(0, n).lastIndexOf(LF);
      if (i >= 0) return start + i + 1;
      end = start;
    }
    return 0;
  }

  get hasHistoryLeft(): boolean {
    return this.historyNextIndex < this.historyRanges;
  }

  /** The next parallel history range, if any. */
  nextHistoryRange(): PlannedRange | undefined {
    if (!this.hasHistoryLeft) return undefined;
    const k = this.historyNextIndex++;
    const start = k * this.rangeBytes;
    this.outstanding++;
    return {
      seq: k,
      start,
      end: Math.min(start + this.rangeBytes, this.historyEnd),
      hardEnd: this.historyEnd,
      final: true,
      framing: Framing.Lines,
      carryPhase: 0,
      skipFirstPartial: k > 0,
      skipUntilNewline: false,
      chain: false,
    };
  }

  /** The next sequential range, when there are unread bytes and none is in flight. */
  nextChainRange(once: boolean): PlannedRange | undefined {
    if (this.chainBusy) return undefined;
    const limit = this.documentEnd ?? this.observedSize;
    if (limit <= this.chainScannedTo) return undefined;
    this.chainBusy = true;
    this.outstanding++;
    const document = this.documentEnd !== undefined;
    return {
      seq: this.nextSeq++,
      start: this.chainOffset,
      end: document ? limit : Math.min(limit, this.chainOffset + this.rangeBytes),
      hardEnd: limit,
      final: document || once,
      framing: this.framing,
      carryPhase: this.chainCarry,
      skipFirstPartial: false,
      skipUntilNewline: this.chainSkipping,
      chain: true,
    };
  }

  /** Record where a range stopped; chain ranges move the chain forward. */
  complete(range: PlannedRange, consumedEnd: number, carryPhase: number, skipUntilNewline: boolean): void {
    this.outstanding--;
    if (!range.chain) return;
    this.chainBusy = false;
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

  /** Nothing more to read now (for --once: the file is finished). */
  get idle(): boolean {
    if (this.outstanding > 0 || this.hasHistoryLeft || this.chainBusy) return false;
    const limit = this.documentEnd ?? this.observedSize;
    return this.chainScannedTo >= limit;
  }


  /** fstat the file; returns true when it grew. */
  refreshSize(now: number): 'grew' | 'same' | 'shrank' {
    const size = fstatSync(this.fd).size;
    if (size > this.observedSize) {
      this.observedSize = size;
      this.observedAt = now;
      return 'grew';
    }
    return size < this.observedSize ? 'shrank' : 'same';
  }

  /** Current size of the open file (follows the inode even after a rename). */
  currentSize(): number {
    try {
      return fstatSync(this.fd).size;
    } catch {
      return this.observedSize;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
