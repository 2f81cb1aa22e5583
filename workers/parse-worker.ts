/**
 * Runs inside each Piscina worker thread. Per task it reads one byte range of a
 * file, parses it in batches with the configured parser, and streams the
 * fixed-size result slots into this thread's own ring. The only per-range
 * message is the small RangeOutcome returned to Piscina.
 */
import { workerData } from 'node:worker_threads';
import { ArrayPhase, compileParseConfig, Framing, SLOT_WORDS, Status, STATUS_CODE_MASK, StatusFlag, W_LENGTH, W_OFFSET, W_STATUS, type ArrayPhaseCode, type ChunkRequest } from '../src/parser/contract.js';
import { SKIP_START, skipArrayElement, skipResumeState } from '../src/parser/js/array-skip.js';
import type { ParseWorkerData, RangeOutcome, RangeTask } from '../src/pool/range-task.js';
import { RingProducer } from '../src/ring/producer.js';
import { createParser } from '../src/parser/select.js';
import { FileShrankError, RangeReader } from './file-reader.js';
import { DeferredLatencyHistogram, encodeHistogram } from '../src/metrics/histograms.js';
import { microsSince, type ShippedStageHistograms } from '../src/metrics/stages.js';
import { BATCH_SLOTS, SlotBatch } from './slot-batch.js';

const data = workerData as ParseWorkerData;
const config = compileParseConfig({
  keyFields: data.keyFields,
  eventTimeField: data.eventTimeField,
  maxRecordBytes: data.maxRecordBytes,
});
// The native parser can mark LF_FOLLOWS itself while it has the bytes at hand
// (not under shadow comparison, which compares against a parser that does not).
const parser = createParser(data.parser, config, { markLfFollows: !data.parserShadow });
const shadow = data.parserShadow ? createParser(data.parserShadow, config) : undefined;
const shadowBatch = new SlotBatch();

// Each thread claims one ring for its lifetime, so every ring has exactly one
// producer (this thread) and one consumer (the main thread).
const ringIndex = Atomics.add(new Int32Array(data.claimBuffer), 0, 1);
const ringBuffer = data.ringBuffers[ringIndex];
if (!ringBuffer) throw new Error(`parse worker: no free result ring (claimed #${ringIndex} of ${data.ringBuffers.length})`);
const ring = new RingProducer(ringBuffer, data.doorbellBuffer, { stallLimitMs: data.ringStallLimitMs });

const batch = new SlotBatch();
// Stage timings stay in this thread and travel as one encoded histogram every
// SHIP_EVERY_MS inside a RangeOutcome: no per-record cross-thread traffic.
// Deferred: no HDR histogram (nor its WebAssembly) is built at start-up.
const parseTimes = new DeferredLatencyHistogram();
const ringWaitTimes = new DeferredLatencyHistogram();
const SHIP_EVERY_MS = 250;
let lastShip = performance.now();
const LF = 0x0a;
const READ_AHEAD = 64 * 1024;
const bufferViews = new WeakMap<SharedArrayBuffer, Uint8Array>();

function viewOf(sab: SharedArrayBuffer): Uint8Array {
  let view = bufferViews.get(sab);
  if (!view) bufferViews.set(sab, (view = new Uint8Array(sab)));
  return view;
}

interface RangeCounter {
  slots: number;
  carry: number;
  /** This range was drawn for shadow parsing. */
  shadowed: boolean;
  compared: number;
  mismatches: number;
  firstMismatch: number;
  /** ring.waitedMs when the range started. */
  waitedBefore: number;
}

function newCounter(carry = 0): RangeCounter {
  const shadowed = shadow !== undefined && Math.random() < data.shadowSample;
  return { slots: 0, carry, shadowed, compared: 0, mismatches: 0, firstMismatch: -1, waitedBefore: ring.waitedMs };
}

/** Re-parse the same chunk with the shadow parser and compare slot by slot; never changes output. */
function compareWithShadow(req: ChunkRequest, counter: RangeCounter): void {
  shadow!.parseChunk(req, shadowBatch.i32, shadowBatch.state);
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

/** StatusFlag.LF_FOLLOWS on the accepted slots of a batch whose record the input continues with one LF. */
function markLfFollows(i32: Int32Array, n: number, buf: Uint8Array): void {
  for (let s = 0, w = W_STATUS; s < n; s++, w += SLOT_WORDS) {
    const status = i32[w]!;
    if ((status & STATUS_CODE_MASK) > Status.UNKEYED) continue;
    const end = i32[w - W_STATUS + W_OFFSET]! + i32[w - W_STATUS + W_LENGTH]!;
    if (end < buf.length && buf[end] === LF) i32[w] = status | StatusFlag.LF_FOLLOWS;
  }
}

/** Parse [from, to) of the buffer in batches; returns the parser's consumedEnd. */
function parseSpan(task: RangeTask, buf: Uint8Array, from: number, to: number, final: boolean, carry: number, counter: RangeCounter): number {
  let pos = from;
  for (;;) {
    const req: ChunkRequest = { input: buf, start: pos, end: to, framing: task.framing, final, carryPhase: carry as ArrayPhaseCode };
    const t0 = performance.now();
    parser.parseChunk(req, batch.i32, batch.state);
    parseTimes.recordValue(microsSince(t0));
    if (counter.shadowed) compareWithShadow(req, counter);
    const n = batch.count;
    if (!(parser.marksLfFollows && task.framing === Framing.Lines)) markLfFollows(batch.i32, n, buf);
    if (n > 0) ring.write(batch.i32, n, task.rangeId);
    counter.slots += n;
    pos = batch.state[0]!;
    carry = batch.state[1]!;
    counter.carry = carry;
    if (n < BATCH_SLOTS || pos >= to) return pos;
  }
}

function emitSynthetic(task: RangeTask, offset: number, length: number, status: number, counter: RangeCounter): void {
  batch.writeSynthetic(0, offset, length, status);
  ring.write(batch.i32, 1, task.rangeId);
  counter.slots += 1;
}

function linesRange(task: RangeTask, reader: RangeReader): RangeOutcome {
  const counter = newCounter();
  let recordStart = task.start;
  const midRecord = task.skipFirstPartial && task.start > 0 && reader.byteAt(task.start - 1) !== LF;
  if (task.skipUntilNewline || midRecord) {
    const after = reader.skipPastNewline(task.start);
    if (after < 0) {
      return outcome(reader, task.start, task.hardEnd, 0, task.skipUntilNewline && !task.final, counter);
    }
    if (after >= task.end) return outcome(reader, task.start, after, 0, false, counter);
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
  if (parseEnd < 0) {
    // The record straddling `end` runs past the whole buffer: longer than
    // maxRecordBytes by construction of the buffer size. Reject it, skip it.
    const tooLargeAt = reader.lastNewlineBefore(task.end - recordStart) + 1;
    parseSpan(task, buf, 0, tooLargeAt, false, 0, counter);
    emitSynthetic(task, tooLargeAt, reader.filled - tooLargeAt, Status.TOO_LARGE, counter);
    const after = reader.skipPastNewline(reader.filledEnd);
    const consumed = after >= 0 ? after : task.hardEnd;
    return outcome(reader, recordStart, consumed, 0, after < 0 && !task.final, counter);
  }
  const consumedIndex = parseSpan(task, buf, 0, parseEnd, final, 0, counter);
  let consumed = recordStart + consumedIndex;
  let skipping = false;
  if (!final && reader.atHardEnd && task.hardEnd - consumed > data.maxRecordBytes) {
    // An unterminated tail already longer than allowed: reject it now instead of
    // holding megabytes until its newline arrives.
    emitSynthetic(task, consumedIndex, reader.filled - consumedIndex, Status.TOO_LARGE, counter);
    consumed = task.hardEnd;
    skipping = true;
  }
  return outcome(reader, recordStart, consumed, 0, skipping, counter);
}

function singleRange(task: RangeTask, reader: RangeReader): RangeOutcome {
  const counter = newCounter();
  const size = task.hardEnd - task.start;
  if (size > data.maxRecordBytes) {
    reader.fillTo(task.start + 256);
    emitSynthetic(task, 0, size, Status.TOO_LARGE, counter);
  } else {
    reader.fillTo(task.hardEnd);
    parseSpan(task, reader.buf, 0, reader.filled, true, 0, counter);
  }
  return outcome(reader, task.start, task.hardEnd, 0, false, counter);
}

function arrayRange(task: RangeTask, reader: RangeReader): RangeOutcome {
  const counter = newCounter(task.carryPhase);
  reader.fillTo(task.hardEnd);
  const final = task.final && reader.atHardEnd;
  const consumedIndex = parseSpan(task, reader.buf, 0, reader.filled, final, task.carryPhase, counter);
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
    emitSynthetic(task, elementStart, elementEnd - task.start - elementStart, Status.TOO_LARGE, counter);
    return outcome(reader, task.start, elementEnd, ArrayPhase.AfterElement, false, counter);
  }
  return outcome(reader, task.start, task.start + consumedIndex, counter.carry, false, counter);
}

function isElementPhase(phase: number): boolean {
  return phase === ArrayPhase.FirstElement || phase === ArrayPhase.NextElement;
}

function firstNonSpace(buf: Uint8Array, end: number): number {
  let i = 0;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  return i;
}

function outcome(reader: RangeReader, bufferFilePos: number, consumedEnd: number, carryPhase: number, skipUntilNewline: boolean, counter: RangeCounter): RangeOutcome {
  ringWaitTimes.recordValue(Math.round((ring.waitedMs - counter.waitedBefore) * 1000));
  let stageHistograms: ShippedStageHistograms | undefined;
  if (performance.now() - lastShip >= SHIP_EVERY_MS) {
    stageHistograms = { parse: encodeHistogram(parseTimes), ringWait: encodeHistogram(ringWaitTimes) };
    parseTimes.reset();
    ringWaitTimes.reset();
    lastShip = performance.now();
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

export default function parseRange(task: RangeTask): RangeOutcome {
  const reader = new RangeReader(task.fd, viewOf(task.buffer), task.start, task.hardEnd);
  try {
    switch (task.framing) {
      case Framing.Lines:
        return linesRange(task, reader);
      case Framing.Single:
        return singleRange(task, reader);
      default:
        return arrayRange(task, reader);
    }
  } catch (err) {
    if (!(err instanceof FileShrankError)) throw err;
    // Truncated under us: nothing of this range counts (the main thread
    // discards its slots and re-reads the file, or a copy of it, from a known point).
    const shrank = outcome(reader, task.start, task.start, task.carryPhase, task.skipUntilNewline, newCounter());
    shrank.shrank = true;
    return shrank;
  }
}
