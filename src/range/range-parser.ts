/**
 * Parsing one byte range of a file: read it with positional reads into the
 * range's buffer, parse it in batches with the configured parser, and hand the
 * fixed-size result slots to `SlotOutput`. A parse worker's output is its
 * ring (workers/parse-worker.ts); the live lane's is the range's result store
 * on the main thread (engine/live-lane.ts). One implementation, so both paths
 * frame, reject and resume records identically.
 */
import { ArrayPhase, Framing, SLOT_WORDS, Status, STATUS_CODE_MASK, StatusFlag, W_LENGTH, W_OFFSET, W_STATUS, type ArrayPhaseCode, type ChunkParser, type ChunkRequest } from '../parser/contract.js';
import { SKIP_START, skipArrayElement, skipResumeState } from '../parser/js/array-skip.js';
import { byteOrderMarkLength } from '../parser/byte-order-mark.js';
import type { RangeOutcome, RangeTask } from '../pool/range-task.js';
import { DeferredLatencyHistogram, encodeHistogram } from '../metrics/histograms.js';
import { microsSince, type ShippedStageHistograms } from '../metrics/stages.js';
import { FileShrankError, newRangeReaderScratch, RangeReader } from './range-reader.js';
import { BATCH_SLOTS, SlotBatch } from './slot-batch.js';
import { firstNotNul, indexOfNul, lastNotNulEnd, MIN_PADDING_RUN, nextPaddingRun, NUL } from './nul-padding.js';
import { gluedRecordStart } from './glued-record.js';

/** Where a range's result slots go, `count` at a time from `batch`. */
export interface SlotOutput {
  /** Slots [firstSlot, firstSlot + count) of `batch` (firstSlot 0 when absent). */
  write(batch: Int32Array, count: number, rangeId: number, firstSlot?: number): void;
  /** Total time write() has waited for room (a ring full), ms. */
  readonly waitedMs: number;
}

export interface RangeParserOptions {
  parser: ChunkParser;
  /** Re-parses a sample of ranges and compares (never changes output). */
  shadow: ChunkParser | undefined;
  shadowSample: number;
  maxRecordBytes: number;
  /**
   * Where parse times go. Default: kept here and shipped inside a
   * RangeOutcome every 250 ms (a worker's only way to the main thread's
   * histograms); the live lane, on the main thread, records them directly.
   */
  parseTimes?: { recordValue(us: number): void };
}

interface RangeCounter {
  slots: number;
  carry: number;
  /** This range was drawn for shadow parsing. */
  shadowed: boolean;
  compared: number;
  mismatches: number;
  firstMismatch: number;
  /** out.waitedMs when the range started. */
  waitedBefore: number;
  /** File position of buffer index 0. */
  bufferFilePos: number;
  /** Records starting at or past this file position are the next range's (Infinity for a sequential range). */
  ownedEnd: number;
  /** The range's first byte: padding is counted within [rangeStart, ownedEnd), so each NUL byte once per file. */
  rangeStart: number;
  paddingBytes: number;
  paddingAt: number;
  /** The last NUL run told to padding() (file positions, unclamped; runs told in pieces joined), or -1. */
  runFrom: number;
  runTo: number;
}

/** Stage timings travel inside a RangeOutcome at most this often: no per-record traffic. */
const SHIP_EVERY_MS = 250;
const LF = 0x0a;
const READ_AHEAD = 64 * 1024;

export class RangeParser {
  private readonly batch = new SlotBatch();
  private readonly shadowBatch = new SlotBatch();
  /** For the records of a line split at NUL bytes (made at the first such line). */
  private segmentBatch: SlotBatch | undefined;
  /** For trying where a glued record starts (glued-record.ts). */
  private probeBatch: SlotBatch | undefined;
  // Deferred: no HDR histogram (nor its WebAssembly) is built until a value comes.
  private readonly shippedParseTimes = new DeferredLatencyHistogram();
  private readonly parseTimes: { recordValue(us: number): void };
  private readonly scratch = newRangeReaderScratch();
  /** The shadow sample of the range being parsed (the task's: a reload may change it between ranges). */
  private sample = 0;
  private readonly outputWaitTimes = new DeferredLatencyHistogram();
  private lastShip = performance.now();
  private readonly parser: ChunkParser;
  private readonly shadow: ChunkParser | undefined;

  constructor(
    private readonly options: RangeParserOptions,
    private readonly out: SlotOutput,
  ) {
    this.parser = options.parser;
    this.shadow = options.shadow;
    this.parseTimes = options.parseTimes ?? this.shippedParseTimes;
  }

  /** Parse `task`'s range into `buf` (its buffer); slots go to the output as they are made. */
  parse(task: RangeTask, buf: Uint8Array): RangeOutcome {
    this.sample = task.shadowSample ?? this.options.shadowSample;
    const reader = new RangeReader(task.fd, buf, task.start, task.hardEnd, this.scratch);
    try {
      switch (task.framing) {
        case Framing.Lines:
          return task.overUnwritten ? this.overUnwritten(task, reader, buf) : this.linesRange(task, reader);
        case Framing.Single:
          return this.singleRange(task, reader);
        default:
          return this.arrayRange(task, reader);
      }
    } catch (err) {
      if (!(err instanceof FileShrankError)) throw err;
      // Truncated under us: nothing of this range counts (the main thread
      // discards its slots and re-reads the file, or a copy of it, from a known point).
      const shrank = this.outcome(reader, task.start, task.start, task.carryPhase, task.skipUntilNewline, this.newCounter(task));
      shrank.shrank = true;
      return shrank;
    }
  }

  private newCounter(task: RangeTask, carry = 0): RangeCounter {
    const shadowed = this.shadow !== undefined && Math.random() < this.sample;
    return {
      slots: 0, carry, shadowed, compared: 0, mismatches: 0, firstMismatch: -1, waitedBefore: this.out.waitedMs,
      bufferFilePos: task.start, ownedEnd: task.sequential ? Number.POSITIVE_INFINITY : task.end, rangeStart: task.start,
      paddingBytes: 0, paddingAt: -1, runFrom: -1, runTo: -1,
    };
  }

  /** Re-parse the same chunk with the shadow parser and compare slot by slot; never changes output. */
  private compareWithShadow(req: ChunkRequest, counter: RangeCounter): void {
    const batch = this.batch;
    const shadowBatch = this.shadowBatch;
    this.shadow!.parseChunk(req, shadowBatch.i32, shadowBatch.state);
    const n = batch.count;
    const m = shadowBatch.count;
    const a = batch.i32;
    const b = shadowBatch.i32;
    for (let s = 0; s < Math.max(n, m); s++) {
      let same = s < n && s < m;
      for (let w = s * SLOT_WORDS, end = w + SLOT_WORDS; same && w < end; w++) same = a[w] === b[w];
      if (!same) {
        counter.mismatches++;
        if (counter.firstMismatch < 0) counter.firstMismatch = s < n ? a[s * SLOT_WORDS + W_OFFSET]! : b[s * SLOT_WORDS + W_OFFSET]!;
      }
    }
    counter.compared += Math.max(n, m);
    if (batch.state[0] !== shadowBatch.state[0] && counter.mismatches === 0) {
      counter.mismatches++;
      counter.firstMismatch = req.start;
    }
  }

  /** Parse [from, to) of the buffer in batches; returns the parser's consumedEnd. */
  private parseSpan(task: RangeTask, buf: Uint8Array, from: number, to: number, final: boolean, carry: number, counter: RangeCounter): number {
    const batch = this.batch;
    let pos = from;
    for (;;) {
      const req: ChunkRequest = { input: buf, start: pos, end: to, framing: task.framing, final, carryPhase: carry as ArrayPhaseCode };
      const t0 = performance.now();
      this.parser.parseChunk(req, batch.i32, batch.state);
      this.parseTimes.recordValue(microsSince(t0));
      if (counter.shadowed) this.compareWithShadow(req, counter);
      const n = batch.count;
      if (!(this.parser.marksLfFollows && task.framing === Framing.Lines)) markLfFollows(batch.i32, n, buf);
      if (task.framing === Framing.Lines && hasRejected(batch.i32, n)) this.writeLines(task, buf, n, counter);
      else if (n > 0) {
        this.out.write(batch.i32, n, task.rangeId);
        counter.slots += n;
      }
      pos = batch.state[0]!;
      carry = batch.state[1]!;
      counter.carry = carry;
      if (n < BATCH_SLOTS || pos >= to) return pos;
    }
  }

  /**
   * The batch's slots to the output, each rejected line that holds NUL bytes
   * replaced by the records between them (nul-padding.ts), and one that ends
   * in a whole record glued to half of one by the two (glued-record.ts).
   * Only rejected lines are looked at, so valid input pays one status test
   * per record.
   */
  private writeLines(task: RangeTask, buf: Uint8Array, n: number, counter: RangeCounter): void {
    const i32 = this.batch.i32;
    // One native search over the batch's bytes first: rejects in a batch without NULs need no search each.
    const last = (n - 1) * SLOT_WORDS;
    const nuls = buf.subarray(i32[W_OFFSET]!, i32[last + W_OFFSET]! + i32[last + W_LENGTH]!).indexOf(NUL) >= 0;
    let from = 0;
    for (let s = 0, w = 0; s < n; s++, w += SLOT_WORDS) {
      const code = i32[w + W_STATUS]! & STATUS_CODE_MASK;
      if (code <= Status.UNKEYED) continue;
      const offset = i32[w + W_OFFSET]!;
      const end = offset + i32[w + W_LENGTH]!;
      const padded = nuls && nextPaddingRun(buf, offset, end) >= 0;
      const glued = padded ? -1 : this.gluedAt(buf, offset, end, code, nuls);
      if (!padded && glued < 0) continue;
      if (s > from) this.out.write(i32, s - from, task.rangeId, from);
      counter.slots += s - from;
      from = s + 1;
      if (padded) this.splitAtNuls(task, buf, offset, end, counter);
      else this.splitGlued(task, buf, offset, glued, end, counter);
    }
    if (n > from) this.out.write(i32, n - from, task.rangeId, from);
    counter.slots += n - from;
  }

  /**
   * Where the whole record glued to the end of the rejected line [start, end)
   * starts (glued-record.ts), or -1. A line with NUL bytes is UTF-16 or
   * UTF-32 text (runs of four or more were split before): one reject, as before.
   */
  private gluedAt(buf: Uint8Array, start: number, end: number, code: number, maybeNuls = true): number {
    if (code !== Status.INVALID_JSON && code !== Status.TRAILING_GARBAGE && code !== Status.INVALID_UTF8) return -1;
    if (maybeNuls && indexOfNul(buf, start, end) >= 0) return -1;
    return gluedRecordStart(buf, start, end, (at) => this.isRecord(buf, at, end));
  }

  /** The part before a glued record (which may hold more of them) and the record. */
  private splitGlued(task: RangeTask, buf: Uint8Array, start: number, glued: number, end: number, counter: RangeCounter): void {
    this.parseSegment(task, buf, start, glued, counter);
    this.parseSegment(task, buf, glued, end, counter);
  }

  /** Is buffer bytes [start, end) one accepted record? */
  private isRecord(buf: Uint8Array, start: number, end: number): boolean {
    const batch = (this.probeBatch ??= new SlotBatch());
    this.parser.parseChunk({ input: buf, start, end, framing: Framing.Lines, final: true, carryPhase: ArrayPhase.BeforeArray }, batch.i32, batch.state);
    return batch.count === 1 && (batch.i32[W_STATUS]! & STATUS_CODE_MASK) <= Status.UNKEYED;
  }

  /**
   * The records between the NUL padding runs of buffer bytes [at, end) (no LF
   * among them) are parsed, and the runs counted. Returns the buffer index
   * where it stopped: `end` when done, the start of a record that runs to
   * `end` when `openEnd` (its end is not in the buffer yet), or -1 when the
   * rest belongs to the next range.
   */
  private splitAtNuls(task: RangeTask, buf: Uint8Array, at: number, end: number, counter: RangeCounter, openEnd = false): number {
    const base = counter.bufferFilePos;
    let pos = at;
    while (pos < end) {
      const run = nextPaddingRun(buf, pos, end);
      const segmentEnd = run < 0 ? end : run;
      if (segmentEnd > pos) {
        if (base + pos >= counter.ownedEnd) return -1;
        if (segmentEnd === end && openEnd) return pos;
        this.parseSegment(task, buf, pos, segmentEnd, counter);
      }
      if (run < 0) break;
      const runEnd = firstNotNul(buf, run, end);
      this.padding(counter, base + run, base + runEnd);
      pos = runEnd;
    }
    return end;
  }

  /** One record between NUL runs (or a NUL run and a line end); a rejected one may end in a glued record. */
  private parseSegment(task: RangeTask, buf: Uint8Array, start: number, end: number, counter: RangeCounter): void {
    const batch = (this.segmentBatch ??= new SlotBatch());
    this.parser.parseChunk({ input: buf, start, end, framing: Framing.Lines, final: true, carryPhase: ArrayPhase.BeforeArray }, batch.i32, batch.state);
    const n = batch.count;
    if (n === 1) {
      const glued = this.gluedAt(buf, start, end, batch.i32[W_STATUS]! & STATUS_CODE_MASK);
      if (glued >= 0) return this.splitGlued(task, buf, start, glued, end, counter);
    }
    markLfFollows(batch.i32, n, buf);
    if (n > 0) this.out.write(batch.i32, n, task.rangeId);
    counter.slots += n;
  }

  /** NUL bytes at file positions [from, to) were read over: counted within the range's own bytes. */
  private padding(counter: RangeCounter, from: number, to: number): void {
    if (from !== counter.runTo) counter.runFrom = from;
    counter.runTo = to;
    const a = Math.max(from, counter.rangeStart);
    const b = Math.min(to, counter.ownedEnd);
    if (b <= a) return;
    if (counter.paddingBytes === 0) counter.paddingAt = a;
    counter.paddingBytes += b - a;
  }

  private emitSynthetic(task: RangeTask, offset: number, length: number, status: number, counter: RangeCounter): void {
    this.batch.writeSynthetic(0, offset, length, status);
    this.out.write(this.batch.i32, 1, task.rangeId);
    counter.slots += 1;
  }

  private linesRange(task: RangeTask, reader: RangeReader): RangeOutcome {
    const counter = this.newCounter(task);
    let recordStart = task.start;
    const behind = (task.skipFirstPartial || task.skipUntilNewline) && task.start > 0 ? reader.lookBehind(task.start) : undefined;
    const midRecord = task.skipFirstPartial && behind !== undefined && !behind.afterNewline;
    const pad = (from: number, to: number): void => this.padding(counter, from, to);
    if (task.skipUntilNewline || midRecord) {
      // From the NULs just before `start`, if any: whether they are padding depends on the whole run.
      const after = reader.skipToRecordStart(task.start - (behind?.nuls ?? 0), false, pad, counter.ownedEnd);
      if (after < 0) {
        return this.holdUnwritten(task, this.outcome(reader, task.start, task.hardEnd, 0, task.skipUntilNewline && !task.final, counter), counter);
      }
      if (after >= task.end) return this.outcome(reader, task.start, after, 0, false, counter);
      recordStart = after;
    }
    reader.filePos = recordStart;
    counter.bufferFilePos = recordStart;
    reader.fillTo(task.end + READ_AHEAD);
    // Find where the last record that starts before `end` ends.
    let parseEnd = -1;
    let final = false;
    for (;;) {
      const nl = reader.newlineIndex(task.end - 1 - recordStart);
      if (nl >= 0) {
        parseEnd = nl + 1;
        break;
      }
      if (reader.atHardEnd) {
        parseEnd = reader.filled;
        final = task.final;
        break;
      }
      if (reader.full) break;
      reader.fillTo(reader.filledEnd + Math.max(READ_AHEAD, reader.filled));
    }
    const buf = reader.buf;
    const from = byteOrderMarkLength(buf, reader.filled, recordStart);
    if (parseEnd < 0) {
      // The record straddling `end` runs past the whole buffer: longer than
      // maxRecordBytes by construction of the buffer size. Reject it, skip it.
      const tooLargeAt = Math.max(from, reader.lastNewlineBefore(task.end - recordStart) + 1);
      this.parseSpan(task, buf, from, tooLargeAt, false, 0, counter);
      // A line longer than the buffer may be a hole of NULs with records after it.
      const open = this.splitAtNuls(task, buf, tooLargeAt, reader.filled, counter, true);
      if (open < 0) return this.outcome(reader, recordStart, reader.filledEnd, 0, false, counter);
      if (open === reader.filled) {
        const next = reader.skipToRecordStart(reader.filledEnd, true, pad, counter.ownedEnd);
        return this.holdUnwritten(task, this.outcome(reader, recordStart, next >= 0 ? next : task.hardEnd, 0, false, counter), counter);
      }
      this.emitSynthetic(task, open, reader.filled - open, Status.TOO_LARGE, counter);
      const after = reader.skipToRecordStart(reader.filledEnd, false, pad, counter.ownedEnd);
      const consumed = after >= 0 ? after : task.hardEnd;
      return this.holdUnwritten(task, this.outcome(reader, recordStart, consumed, 0, after < 0 && !task.final, counter), counter);
    }
    const consumedIndex = this.parseSpan(task, buf, from, parseEnd, final, 0, counter);
    let consumed = recordStart + consumedIndex;
    let skipping = false;
    const unwritten = !final && task.sequential && reader.atHardEnd ? unwrittenTail(buf, consumedIndex, reader.filled) : -1;
    if (unwritten >= 0) {
      // The unterminated rest (a record half written over the space, if any) is read again with what follows it.
      const outcome = this.outcome(reader, recordStart, consumed, 0, false, counter);
      outcome.unwrittenFrom = recordStart + unwritten;
      return outcome;
    }
    if (!final && reader.atHardEnd && task.hardEnd - consumed > this.options.maxRecordBytes) {
      // An unterminated tail already longer than allowed: reject it now instead of
      // holding megabytes until its newline arrives (unless it is NUL padding,
      // as a file preallocated or extended by a crash ends with).
      const open = this.splitAtNuls(task, buf, consumedIndex, reader.filled, counter, true);
      if (open < 0 || open === reader.filled) consumed = task.hardEnd;
      else if (reader.filled - open <= this.options.maxRecordBytes) consumed = recordStart + open;
      else {
        this.emitSynthetic(task, open, reader.filled - open, Status.TOO_LARGE, counter);
        consumed = task.hardEnd;
        skipping = true;
      }
    }
    return this.outcome(reader, recordStart, consumed, 0, skipping, counter);
  }

  private singleRange(task: RangeTask, reader: RangeReader): RangeOutcome {
    const counter = this.newCounter(task);
    const size = task.hardEnd - task.start;
    if (size > this.options.maxRecordBytes) {
      reader.fillTo(task.start + 256);
      this.emitSynthetic(task, 0, size, Status.TOO_LARGE, counter);
    } else {
      reader.fillTo(task.hardEnd);
      const from = byteOrderMarkLength(reader.buf, reader.filled, task.start);
      this.parseSpan(task, reader.buf, from, reader.filled, true, 0, counter);
    }
    return this.outcome(reader, task.start, task.hardEnd, 0, false, counter);
  }

  private arrayRange(task: RangeTask, reader: RangeReader): RangeOutcome {
    const counter = this.newCounter(task, task.carryPhase);
    reader.fillTo(task.hardEnd);
    const final = task.final && reader.atHardEnd;
    const from = byteOrderMarkLength(reader.buf, reader.filled, task.start);
    const consumedIndex = this.parseSpan(task, reader.buf, from, reader.filled, final, task.carryPhase, counter);
    if (consumedIndex === 0 && counter.slots === 0 && reader.full && isElementPhase(task.carryPhase)) {
      // One element larger than the whole buffer (so larger than maxRecordBytes):
      // reject it, step over it structurally without keeping its bytes, and carry on.
      let st = SKIP_START;
      const elementStart = firstNonSpace(reader.buf, reader.filled);
      const stop = reader.scanFrom(task.start + elementStart, (chunk, n) => {
        const r = skipArrayElement(chunk, 0, n, st);
        if (r >= 0) return r;
        st = skipResumeState(r);
        return -1;
      });
      const elementEnd = stop >= 0 ? stop : task.hardEnd;
      this.emitSynthetic(task, elementStart, elementEnd - task.start - elementStart, Status.TOO_LARGE, counter);
      return this.outcome(reader, task.start, elementEnd, ArrayPhase.AfterElement, false, counter);
    }
    return this.outcome(reader, task.start, task.start + consumedIndex, counter.carry, false, counter);
  }

  /**
   * A window over space a writer preallocated and stores records into in
   * order. A reader can see a store half done (memcpy writes the ends of a
   * block last), so a NUL byte, never part of JSON text, is where the written
   * part ends for now, not padding: the range ends at the first one, and the
   * cursor looks there again.
   */
  private overUnwritten(task: RangeTask, reader: RangeReader, buf: Uint8Array): RangeOutcome {
    let cut = false;
    try {
      reader.fillTo(task.hardEnd);
    } catch (err) {
      // The writer cut off the space it did not use (closing its file): what it wrote ends where the file does.
      if (!(err instanceof FileShrankError)) throw err;
      cut = true;
    }
    const nul = buf.subarray(0, reader.filled).indexOf(NUL);
    if (nul < 0 && !cut) return this.linesRange(task, new RangeReader(task.fd, buf, task.start, task.hardEnd, this.scratch));
    const written = task.start + (nul >= 0 ? nul : reader.filled);
    const writtenAfter = nul >= 0 && firstNotNul(buf, nul, reader.filled) < reader.filled;
    const outcome = this.linesRange({ ...task, end: written, hardEnd: written }, new RangeReader(task.fd, buf, task.start, written, this.scratch));
    outcome.unwrittenFrom = written;
    if (writtenAfter) outcome.writtenAfter = true;
    return outcome;
  }

  /**
   * A follower's file that ends in NULs has not necessarily ended: a writer
   * that preallocates its file (a memory-mapped appender) writes its records
   * over them in place, so they are space not written yet, not padding. When
   * the NUL run read over last reaches hardEnd in a sequential, non-final
   * range, the chain stays at its start, the run is not counted, and the
   * outcome says where it starts (the cursor looks there again).
   */
  private holdUnwritten(task: RangeTask, outcome: RangeOutcome, counter: RangeCounter): RangeOutcome {
    if (task.final || !task.sequential || counter.runTo !== task.hardEnd || counter.runFrom >= outcome.consumedEnd) return outcome;
    const from = Math.max(counter.runFrom, counter.rangeStart);
    const counted = Math.max(0, Math.min(counter.runTo, counter.ownedEnd) - from);
    const paddingBytes = (outcome.paddingBytes ?? 0) - counted;
    if (paddingBytes > 0) outcome.paddingBytes = paddingBytes;
    else {
      delete outcome.paddingBytes;
      delete outcome.paddingAt;
    }
    outcome.consumedEnd = Math.max(counter.runFrom, task.start);
    outcome.skipUntilNewline = false;
    outcome.unwrittenFrom = outcome.consumedEnd;
    return outcome;
  }

  private outcome(reader: RangeReader, bufferFilePos: number, consumedEnd: number, carryPhase: number, skipUntilNewline: boolean, counter: RangeCounter): RangeOutcome {
    if (this.options.parseTimes === undefined) this.outputWaitTimes.recordValue(Math.round((this.out.waitedMs - counter.waitedBefore) * 1000));
    let stageHistograms: ShippedStageHistograms | undefined;
    if (this.options.parseTimes === undefined && performance.now() - this.lastShip >= SHIP_EVERY_MS) {
      stageHistograms = { parse: encodeHistogram(this.shippedParseTimes), ringWait: encodeHistogram(this.outputWaitTimes) };
      this.shippedParseTimes.reset();
      this.outputWaitTimes.reset();
      this.lastShip = performance.now();
    }
    return {
      stageHistograms,
      bufferFilePos,
      consumedEnd,
      carryPhase,
      skipUntilNewline,
      bytesRead: reader.bytesRead,
      slots: counter.slots,
      shadowCompared: counter.compared,
      shadowMismatches: counter.mismatches,
      shadowFirstMismatch: counter.firstMismatch,
      ...(counter.paddingBytes > 0 ? { paddingBytes: counter.paddingBytes, paddingAt: counter.paddingAt } : {}),
    };
  }
}

/**
 * Buffer index where a run of at least MIN_PADDING_RUN NULs ends the buffer,
 * when no LF lies between `at` (where the unterminated rest starts) and it;
 * otherwise -1.
 */
function unwrittenTail(buf: Uint8Array, at: number, end: number): number {
  if (end - at < MIN_PADDING_RUN || buf[end - 1] !== NUL) return -1;
  const run = lastNotNulEnd(buf, at, end);
  if (end - run < MIN_PADDING_RUN) return -1;
  return buf.subarray(at, run).indexOf(LF) < 0 ? run : -1;
}

/** Whether any of the batch's first `n` slots is a rejected record. */
function hasRejected(i32: Int32Array, n: number): boolean {
  for (let w = W_STATUS, end = n * SLOT_WORDS; w < end; w += SLOT_WORDS) if ((i32[w]! & STATUS_CODE_MASK) > Status.UNKEYED) return true;
  return false;
}

/** StatusFlag.LF_FOLLOWS on the accepted slots of a batch whose record the input continues with one LF. */
function markLfFollows(i32: Int32Array, n: number, buf: Uint8Array): void {
  for (let s = 0, w = W_STATUS; s < n; s++, w += SLOT_WORDS) {
    const status = i32[w]!;
    if ((status & STATUS_CODE_MASK) > Status.UNKEYED) continue;
    const end = i32[w - W_STATUS + W_OFFSET]! + i32[w - W_STATUS + W_LENGTH]!;
    if (end < buf.length && buf[end] === LF) i32[w] = status | StatusFlag.LF_FOLLOWS;
  }
}

function isElementPhase(phase: number): boolean {
  return phase === ArrayPhase.FirstElement || phase === ArrayPhase.NextElement;
}

function firstNonSpace(buf: Uint8Array, end: number): number {
  let i = 0;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  return i;
}
