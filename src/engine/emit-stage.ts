import {
  REJECT_REASONS,
  SLOT_F64_WORDS,
  SLOT_WORDS,
  Status,
  STATUS_CODE_MASK,
  StatusFlag,
  W_HASH_HI,
  W_HASH_LO,
  W_LENGTH,
  W_OFFSET,
  W_STATUS,
} from '../parser/contract.js';
import { Counter, StreamSlot, type Counters, type StreamCounters } from '../metrics/counters.js';
import type { LatencyRecorder } from '../metrics/latency.js';
import type { RangeResults } from '../pool/range-results.js';
import { DeadLetterFile } from '../sinks/dead-letter.js';
import type { StagingBuffer } from '../sinks/staging.js';
import { DedupTable, INSERT_DUPLICATE, type NativeDedup } from '../dedup/table.js';
import type { DedupJournal } from '../checkpoint/dedup-journal.js';
import { suspectUnitOf, type RecordDoubt } from './record-doubts.js';

/**
 * Slots whose dedup buckets are loaded together before their inserts: their
 * misses overlap; fewer overlap less, more gained nothing (measured by hand;
 * figures in bench/RESULTS.md).
 */
const TOUCH_AHEAD = 16;

/** Records at the start of each range whose event time is looked at for its units, until a doubt is said. */
const UNITS_LOOKED_AT = 4;

/** Of the first line of a file that holds no records, shown (as JSON text) when that is said. */
const NOT_RECORDS_SAMPLE_BYTES = 48;

/** Of a record's text handed with a doubt. */
const DOUBT_RECORD_CHARS = 65_536;

/**
 * How far one input stream (a file) has got in event time: the largest time of
 * its keyed records emitted so far. The slowest active stream's is the table's
 * low watermark (layout.ts, "Forgetting").
 */
export interface EventTimeProgress {
  maxEventTime: number;
}

/** Lines a file begins with, all rejected, before it is said once that it holds no records (record-doubts.ts). */
export const NOT_RECORDS_AFTER = 100;

/**
 * A file's records as emitted so far: a file the input glob should not match
 * (a binary, a compressed file without its suffix, another format) has every
 * line rejected, which the dead-letter file and the counts keep but no line
 * of the log says.
 */
export interface RecordTally {
  recordsAccepted: number;
  recordsRejected: number;
  /** Said, or never to be: reading did not start at the file's first byte (a restart from a checkpoint). */
  notRecordsSettled: boolean;
}

/** A parsed range whose turn has come: its bytes, its slots, where it came from. */
export interface ReadyRange {
  readonly path: string;
  /** The file's identity (`dev:ino`): records without a key are named by it and their offset. */
  readonly origin: string;
  /** The stream these bytes belong to; its maxEventTime is raised as keyed records are emitted. */
  readonly progress: EventTimeProgress;
  readonly tally: RecordTally;
  readonly bytes: Buffer;
  readonly bufferFilePos: number;
  readonly results: RangeResults;
  /** When growth of these bytes was first observed (performance.now() ms). */
  readonly observedAt: number;
  /** Arrival time for records without an event time (epoch ms). */
  readonly arrivalEpochMs: number;
  /** Bytes that appeared while followed (the live stream), not start-up history. */
  readonly live: boolean;
  /** Hybrid mode's batch path: told each keyed record's file offset and whether it was emitted (undefined elsewhere). */
  readonly observe: ((offset: number, emitted: boolean) => void) | undefined;
}

export interface RejectListener {
  (entry: { file: string; offset: number; reason: string; sample: string }): void;
}

/**
 * The last stage before the sinks, run on the main thread in emission order:
 * per slot, reject → dead letter; keyed → dedup table; survivors → staging
 * buffer as their original bytes. Emission order makes "first seen wins"
 * deterministic: live file first, then history, each file in input order.
 */
export class EmitStage {
  /** Where touchAhead's loads end up (kept so the JIT cannot drop them). */
  private touched = 0;
  /**
   * Whether the table's pages are still to be faulted in ahead of inserts
   * (native only, at the first range with a keyed record: a stream without
   * keys never makes the table resident).
   */
  private populatePending: boolean;
  /** insertSlots' verdicts for the range being emitted (emission is serial). */
  private verdicts = new Uint8Array(4096);
  /** Verdicts of a range emitted aside (emitAside), while the waiting range keeps its own. */
  private asideVerdicts = new Uint8Array(1024);
  /** forgottenInWindow() when last looked at (after each range). */
  private forgottenSeen = 0;
  /** Whether onRecordDoubt was told of a record without the key / without an event time / an unusable event time / one in other units (once each per run). */
  private noKeyTold: boolean;
  private noTimeTold: boolean;
  private invalidTimeTold: boolean;
  private unitsTold: boolean;

  constructor(
    private readonly dedup: DedupTable,
    private readonly staging: StagingBuffer,
    private readonly counters: Counters,
    private readonly latency: { live: LatencyRecorder; history: LatencyRecorder },
    private readonly deadLetter: DeadLetterFile | undefined,
    private readonly onReject: RejectListener | undefined,
    private readonly streams: StreamCounters,
    /** With checkpoints: every NEW key, so a checkpoint writes only what is new. */
    private readonly journal?: DedupJournal,
    /** The addon's batch insert: one call per range instead of one insertAt per record. */
    private readonly native?: NativeDedup,
    /** Told each time keys still inside the window have been forgotten (count so far). */
    private readonly onForgetting?: (forgottenInWindow: number) => void,
    /** Told of the first record without the key, the first event time that is not a time, and the first that looks like other units than ms (record-doubts.ts). */
    private readonly onRecordDoubt?: (doubt: RecordDoubt) => void,
  ) {
    this.populatePending = native !== undefined;
    this.noKeyTold = this.noTimeTold = this.invalidTimeTold = this.unitsTold = onRecordDoubt === undefined;
  }

  /** See DedupTable.setLowWatermark. */
  setLowWatermark(t: number): void {
    this.dedup.setLowWatermark(t);
  }

  /**
   * Emit slots [first, end) of a range (all of it: 0, results.count); returns
   * a promise only when the sink applied backpressure. A long range can be
   * emitted in slices with other ranges (the live lane's) in between; the
   * slices of one range must come in order.
   */
  emitSlice(range: ReadyRange, first: number, end: number, now: number): true | Promise<void> {
    return this.emitFrom(range, first, end, now, 0);
  }

  /**
   * Emit all of a live range whose records go ahead (StagingBuffer.canWriteAhead)
   * while the emission of another range waits for the sink: with verdicts of
   * its own, and the staging buffer back on the waiting range afterwards.
   * Never waits: records written ahead are never held back by the sink.
   */
  emitAside(range: ReadyRange, now: number): void {
    const held = this.verdicts;
    this.verdicts = this.asideVerdicts;
    try {
      const done = this.staging.aside(() => this.emitFrom(range, 0, range.results.count, now, 0));
      if (done !== true) throw new Error(`${range.path}: a live range written ahead waited for the sink`);
    } finally {
      this.asideVerdicts = this.verdicts;
      this.verdicts = held;
    }
  }

  /** Native inserts of slots [first, end) until the first one JS must do; returns where they stopped. */
  private insertNative(native: NativeDedup, range: ReadyRange, first: number, end: number): number {
    const { i32 } = range.results;
    if (this.populatePending && hasKeyed(i32, first, end)) {
      this.populatePending = false;
      native.populateInBackground(new Uint8Array(this.dedup.sharedBuffer));
    }
    if (this.verdicts.length < end) this.verdicts = new Uint8Array(Math.max(end, this.verdicts.length * 2));
    return this.dedup.insertSlots(native, i32, first, end, range.arrivalEpochMs, this.verdicts);
  }

  /**
   * @param nativeTo slots below it already went through insertNative, their
   *   verdicts in this.verdicts (on resumption after backpressure).
   */
  private emitFrom(range: ReadyRange, first: number, count: number, now: number, nativeTo: number): true | Promise<void> {
    const { i32, f64 } = range.results;
    const native = this.native;
    this.staging.beginRange(range.origin, range.bufferFilePos, range.live);
    if (!this.unitsTold) this.lookAtUnits(range, first, Math.min(count, first + UNITS_LOOKED_AT));
    if (native && nativeTo <= first && first < count) nativeTo = this.insertNative(native, range, first, count);
    const c = this.counters.values;
    const rejects = this.counters.rejectsByCode;
    const bytes = range.bytes;
    const stream = range.live ? this.streams.live : this.streams.history;
    const progress = range.progress;
    const observe = range.observe;
    const read0 = c[Counter.recordsRead]!;
    const dup0 = c[Counter.duplicates]!;
    const rej0 = c[Counter.rejected]!;
    let emitted = 0;
    // Consecutive accepted records that are followed by a bare LF in the input
    // form one run [runStart, runEnd) whose bytes are already the output.
    let runStart = 0;
    let runEnd = -1;
    // With the addon, its prefetch replaces touch-ahead.
    let touchedTo = native ? count : first;
    for (let s = first; s < count; s++) {
      if (s === touchedTo) touchedTo = this.touchAhead(i32, s, Math.min(count, s + TOUCH_AHEAD));
      const w = s * SLOT_WORDS;
      const status = i32[w + W_STATUS]!;
      const code = status & STATUS_CODE_MASK;
      c[Counter.recordsRead]!++;
      if (code > Status.UNKEYED) {
        c[Counter.rejected]!++;
        rejects[code]!++;
        this.reject(range, i32[w + W_OFFSET]!, i32[w + W_LENGTH]!, code);
        continue;
      }
      if ((status & StatusFlag.EVENT_TIME_INVALID) !== 0) {
        c[Counter.eventTimeInvalid]!++;
        if (!this.invalidTimeTold) this.tellDoubt(range, w, 'invalid', NaN);
      }
      if (code === Status.KEYED) {
        const t = s * SLOT_F64_WORDS;
        let verdict: number;
        if (s < nativeTo) {
          verdict = this.verdicts[s]!;
        } else {
          // insertAt reads the time from the slot: passing a double by value
          // could box it on every call.
          if (f64[t] !== f64[t]) f64[t] = range.arrivalEpochMs;
          verdict = this.dedup.insertAt(i32[w + W_HASH_LO]!, i32[w + W_HASH_HI]!, f64, t);
          if (native && s + 1 < count) nativeTo = this.insertNative(native, range, s + 1, count);
        }
        // The time as inserted (a missing one is the arrival time by now).
        if (f64[t]! > progress.maxEventTime) progress.maxEventTime = f64[t]!;
        if (verdict === INSERT_DUPLICATE) {
          c[Counter.duplicates]!++;
          if (observe !== undefined) observe(range.bufferFilePos + i32[w + W_OFFSET]!, false);
          continue;
        }
        if (observe !== undefined) observe(range.bufferFilePos + i32[w + W_OFFSET]!, true);
        if (this.journal) this.journal.push(i32[w + W_HASH_LO]!, i32[w + W_HASH_HI]!, f64, t);
      } else {
        c[Counter.withoutKey]!++;
        if (!this.noKeyTold) this.tellDoubt(range, w, 'no-key', NaN);
      }
      c[Counter.recordsEmitted]!++;
      emitted++;
      const offset = i32[w + W_OFFSET]!;
      const end = offset + i32[w + W_LENGTH]!;
      // Set by the parse worker, which has these bytes in its cache (contract.ts).
      const bareLf = (status & StatusFlag.LF_FOLLOWS) !== 0;
      if (offset === runEnd && bareLf) {
        runEnd = end + 1;
        continue;
      }
      const flushed: true | Promise<void> = runEnd > runStart ? this.staging.appendRaw(bytes, runStart, runEnd) : true;
      if (bareLf) {
        runStart = offset;
        runEnd = end + 1;
      } else {
        runEnd = -1;
      }
      if (flushed === true && bareLf) continue;
      const appended = bareLf ? flushed : this.appendAfter(flushed, bytes, offset, end - offset);
      if (appended !== true) {
        // Backpressure: finish this record's run after the sink is ready, then go on.
        this.settle(range, now, emitted, stream, read0, dup0, rej0);
        return this.resumeAfter(appended, range, runStart, runEnd, s + 1, count, nativeTo);
      }
    }
    if (runEnd > runStart) {
      const appended = this.staging.appendRaw(bytes, runStart, runEnd);
      this.settle(range, now, emitted, stream, read0, dup0, rej0);
      return appended;
    }
    this.settle(range, now, emitted, stream, read0, dup0, rej0);
    return true;
  }

  // The slow paths live outside emitFrom: a closure in its loop would make
  // V8 allocate a context for the loop's variables on every record.

  /** Append one record (and its "\n") once `flushed` has settled. */
  private appendAfter(flushed: true | Promise<void>, bytes: Buffer, offset: number, length: number): true | Promise<void> {
    if (flushed === true) return this.staging.append(bytes, offset, length);
    return flushed.then(async () => {
      await this.staging.append(bytes, offset, length);
    });
  }

  /** After backpressure: the pending run [runStart, runEnd), then slots [next, end) of the range. */
  private async resumeAfter(appended: Promise<void>, range: ReadyRange, runStart: number, runEnd: number, next: number, end: number, nativeTo: number): Promise<void> {
    await appended;
    this.staging.beginRange(range.origin, range.bufferFilePos, range.live);
    if (runEnd > runStart) await this.staging.appendRaw(range.bytes, runStart, runEnd);
    await this.emitFrom(range, next, end, performance.now(), nativeTo);
  }

  /** Touch the dedup buckets of keyed slots [from, to) (see DedupTable.touch); returns `to`. */
  private touchAhead(i32: Int32Array, from: number, to: number): number {
    let acc = 0;
    for (let s = from; s < to; s++) {
      const w = s * SLOT_WORDS;
      if ((i32[w + W_STATUS]! & STATUS_CODE_MASK) === Status.KEYED) acc ^= this.dedup.touch(i32[w + W_HASH_LO]!, i32[w + W_HASH_HI]!);
    }
    this.touched ^= acc;
    return to;
  }

  /** Per range (and per resumption after backpressure): latency and per-stream counts. */
  private settle(range: ReadyRange, now: number, emitted: number, stream: Float64Array, read0: number, dup0: number, rej0: number): void {
    const c = this.counters.values;
    stream[StreamSlot.read]! += c[Counter.recordsRead]! - read0;
    stream[StreamSlot.duplicates]! += c[Counter.duplicates]! - dup0;
    stream[StreamSlot.rejected]! += c[Counter.rejected]! - rej0;
    stream[StreamSlot.emitted]! += emitted;
    const tally = range.tally;
    if (!tally.notRecordsSettled) this.tallyRecords(range, c[Counter.recordsRead]! - read0, c[Counter.rejected]! - rej0);
    (range.live ? this.latency.live : this.latency.history).record((now - range.observedAt) * 1000, emitted);
    const forgotten = this.dedup.forgottenInWindow();
    if (forgotten !== this.forgottenSeen) {
      this.forgottenSeen = forgotten;
      this.onForgetting?.(forgotten);
    }
  }

  /** Until its first record, or until it is said that its first lines hold none. */
  private tallyRecords(range: ReadyRange, read: number, rejected: number): void {
    const tally = range.tally;
    if (tally.recordsAccepted + tally.recordsRejected === 0 && range.bufferFilePos > 0) {
      tally.notRecordsSettled = true;
      return;
    }
    tally.recordsAccepted += read - rejected;
    tally.recordsRejected += rejected;
    if (tally.recordsAccepted > 0) tally.notRecordsSettled = true;
    else if (tally.recordsRejected >= NOT_RECORDS_AFTER) {
      tally.notRecordsSettled = true;
      this.tellNotRecords(range);
    }
  }

  /** A file whose first lines are all rejected: said with their reasons in this range and how the first begins. */
  private tellNotRecords(range: ReadyRange): void {
    if (!this.onRecordDoubt) return;
    const { i32, count } = range.results;
    const reasons = new Map<string, number>();
    let first = -1;
    for (let s = 0; s < count; s++) {
      const w = s * SLOT_WORDS;
      const code = i32[w + W_STATUS]! & STATUS_CODE_MASK;
      if (code <= Status.UNKEYED) continue;
      if (first < 0) first = w;
      const reason = REJECT_REASONS[code] ?? `status_${code}`;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    const offset = first < 0 ? 0 : i32[first + W_OFFSET]!;
    const length = first < 0 ? 0 : i32[first + W_LENGTH]!;
    const sample = DeadLetterFile.sampleOf(range.bytes, offset, Math.min(length, NOT_RECORDS_SAMPLE_BYTES));
    const byCount = [...reasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ${n}`);
    this.onRecordDoubt({ kind: 'not-records', file: range.path, offset: range.bufferFilePos + offset, record: sample, ms: NaN, lines: range.tally.recordsRejected, reasons: byCount.join(', ') });
  }

  /** The first parsed event time among slots [from, to), before any insert replaces a missing one: is it in ms? */
  private lookAtUnits(range: ReadyRange, from: number, to: number): void {
    const { i32, f64 } = range.results;
    for (let s = from; s < to; s++) {
      const w = s * SLOT_WORDS;
      const status = i32[w + W_STATUS]!;
      const code = status & STATUS_CODE_MASK;
      const ms = f64[s * SLOT_F64_WORDS]!;
      if (code > Status.UNKEYED || (status & StatusFlag.EVENT_TIME_INVALID) !== 0) continue;
      if (ms !== ms) {
        // Missing: for a keyed record, its dedup window runs on arrival time.
        if (code === Status.KEYED && !this.noTimeTold) this.tellDoubt(range, w, 'no-time', NaN);
        continue;
      }
      const unit = suspectUnitOf(ms);
      if (unit !== undefined) this.tellDoubt(range, w, unit, ms);
      return;
    }
  }

  private tellDoubt(range: ReadyRange, w: number, kind: RecordDoubt['kind'], ms: number): void {
    if (kind === 'no-key') this.noKeyTold = true;
    else if (kind === 'no-time') this.noTimeTold = true;
    else if (kind === 'invalid') this.invalidTimeTold = true;
    else this.unitsTold = true;
    const { i32 } = range.results;
    const offset = i32[w + W_OFFSET]!;
    const length = Math.min(i32[w + W_LENGTH]!, DOUBT_RECORD_CHARS);
    this.onRecordDoubt!({ kind, file: range.path, offset: range.bufferFilePos + offset, record: range.bytes.toString('utf8', offset, offset + length), ms });
  }

  private reject(range: ReadyRange, offset: number, length: number, code: number): void {
    if (!this.deadLetter && !this.onReject) return;
    const entry = {
      file: range.path,
      offset: range.bufferFilePos + offset,
      reason: REJECT_REASONS[code] ?? `status_${code}`,
      sample: DeadLetterFile.sampleOf(range.bytes, offset, length),
    };
    this.deadLetter?.write(entry);
    this.onReject?.(entry);
  }
}

/** Whether any of slots [first, count) is KEYED. */
function hasKeyed(i32: Int32Array, first: number, count: number): boolean {
  for (let s = first; s < count; s++) if ((i32[s * SLOT_WORDS + W_STATUS]! & STATUS_CODE_MASK) === Status.KEYED) return true;
  return false;
}
