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

/** Where a range's result slots go, `count` at a time from `batch`. */
export interface SlotOutput {
  write(batch: Int32Array, count: number, rangeId: number): void;
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
}

/** Stage timings travel inside a RangeOutcome at most this often: no per-record traffic. */
const SHIP_EVERY_MS = 250;
const LF = 0x0a;
const READ_AHEAD = 64 * 1024;

export class RangeParser {
  private readonly batch = new SlotBatch();
  private readonly shadowBatch = new SlotBatch();
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
          return this.linesRange(task, reader);
        case Framing.Single:
          return this.singleRange(task, reader);
        default:
          return this.arrayRange(task, reader);
      }
    } catch (err) {
      if (!(err instanceof FileShrankError)) throw err;
      // Truncated under us: nothing of this range counts (the main thread
      // discards its slots and re-reads the file, or a copy of it, from a known point).
      const shrank = this.outcome(reader, task.start, task.start, task.carryPhase, task.skipUntilNewline, this.newCounter());
      shrank.shrank = true;
      return shrank;
    }
  }

  private newCounter(carry = 0): RangeCounter {
    const shadowed = this.shadow !== undefined && Math.random() < this.sample;
    return { slots: 0, carry, shadowed, compared: 0, mismatches: 0, firstMismatch: -1, waitedBefore: this.out.waitedMs };
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
      if (n > 0) this.out.write(batch.i32, n, task.rangeId);
      counter.slots += n;
      pos = batch.state[0]!;
      carry = batch.state[1]!;
      counter.carry = carry;
      if (n < BATCH_SLOTS || pos >= to) return pos;
    }
  }

  private emitSynthetic(task: RangeTask, offset: number, length: number, status: number, counter: RangeCounter): void {
    this.batch.writeSynthetic(0, offset, length, status);
    this.out.write(this.batch.i32, 1, task.rangeId);
    counter.slots += 1;
  }

  private linesRange(task: RangeTask, reader: RangeReader): RangeOutcome {
    const counter = this.newCounter();
    let recordStart = task.start;
    const midRecord = task.skipFirstPartial && task.start > 0 && reader.byteAt(task.start - 1) !== LF;
    if (task.skipUntilNewline || midRecord) {
      const after = reader.skipPastNewline(task.start);
      if (after < 0) {
        return this.outcome(reader, task.start, task.hardEnd, 0, task.skipUntilNewline && !task.final, counter);
      }
      if (after >= task.end) return this.outcome(reader, task.start, after, 0, false, counter);
      recordStart = after;
    }
    reader.filePos = recordStart;
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
      this.emitSynthetic(task, tooLargeAt, reader.filled - tooLargeAt, Status.TOO_LARGE, counter);
      const after = reader.skipPastNewline(reader.filledEnd);
      const consumed = after >= 0 ? after : task.hardEnd;
      return this.outcome(reader, recordStart, consumed, 0, after < 0 && !task.final, counter);
    }
    const consumedIndex = this.parseSpan(task, buf, from, parseEnd, final, 0, counter);
    let consumed = recordStart + consumedIndex;
    let skipping = false;
    if (!final && reader.atHardEnd && task.hardEnd - consumed > this.options.maxRecordBytes) {
      // An unterminated tail already longer than allowed: reject it now instead of
      // holding megabytes until its newline arrives.
      this.emitSynthetic(task, consumedIndex, reader.filled - consumedIndex, Status.TOO_LARGE, counter);
      consumed = task.hardEnd;
      skipping = true;
    }
    return this.outcome(reader, recordStart, consumed, 0, skipping, counter);
  }

  private singleRange(task: RangeTask, reader: RangeReader): RangeOutcome {
    const counter = this.newCounter();
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
    const counter = this.newCounter(task.carryPhase);
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
    };
  }
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
