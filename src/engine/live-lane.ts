/*
 * The live lane: growth of a followed file, when small, is read and parsed on
 * the main thread the moment it is noticed, instead of making a round trip
 * through the worker pool (a message to a worker, its wake-up, the ring, a
 * message back). Everything after parsing is the pool path's: the same result
 * store, emit stage, dedup table, output bytes, rejects and checkpoints; the
 * range parser itself is the workers' (range/range-parser.ts). History, and
 * growth too large to parse between two events without delaying them, stay on
 * the pool, whose threads yield to this one (workers/parse-worker.ts).
 */
import type { ResolvedOptions } from '../config/options.js';
import { compileParseConfig, Framing, SLOT_WORDS } from '../parser/contract.js';
import { createParser, type ParserName } from '../parser/select.js';
import type { RangeOutcome, RangeTask } from '../pool/range-task.js';
import type { RangeResults } from '../pool/range-results.js';
import { RangeParser } from '../range/range-parser.js';
import type { PlannedRange } from '../sources/file-cursor.js';

/**
 * Largest growth parsed on the main thread: more than a busy writer appends
 * between two inotify events, even after a pause of the main thread (a GC, a
 * checkpoint) at hundreds of thousands of records a second; larger growth is
 * a backlog, and the pool reads it in parallel.
 */
export const LIVE_LANE_MAX_BYTES = 8 << 20;
/**
 * Buffers start at this size; larger growth gets a larger one (a power of two,
 * kept for reuse). Small, because a SharedArrayBuffer is zero-filled when made
 * and a directory of files appended side by side has one range per file in flight.
 */
const LIVE_LANE_MIN_BUFFER = 16 * 1024;
/**
 * Free buffers kept for reuse. A range holds its buffer until the sink has
 * written its records, so several are in use at once (one per followed file
 * with a range in flight, plus those waiting for the sink); spare ones are
 * kept up to this many bytes (and at least LIVE_LANE_SPARE_BUFFERS of them),
 * beyond which they go to the GC.
 */
const LIVE_LANE_SPARE_BYTES = 8 << 20;
const LIVE_LANE_SPARE_BUFFERS = 4;

export class LiveLane {
  /** Off (liveLane: false, a reload): growth goes through the pool like history. Never off when it is the only parser (no pool). */
  enabled: boolean;
  private readonly free: SharedArrayBuffer[] = [];
  /** Bytes of the buffers in `free`. */
  private spareBytes = 0;
  private readonly owned = new WeakSet<SharedArrayBuffer>();
  private readonly views = new WeakMap<SharedArrayBuffer, Uint8Array>();
  private readonly ranges: RangeParser;
  /** The canary parser's, for ranges of files in the canary share (pool/canary.ts). */
  private readonly canaryRanges: RangeParser | undefined;
  /** The result store of the range being parsed (set only inside parse()). */
  private target: RangeResults | undefined;

  /**
   * @param parseTimes the main thread's parse-time histogram (µs per parser call).
   * @param readsHistory also parse ranges of history: a small `--once` run that starts no parse thread.
   */
  constructor(
    o: ResolvedOptions,
    parser: ParserName,
    parseTimes: { recordValue(us: number): void },
    private readonly readsHistory = false,
  ) {
    this.enabled = o.liveLane;
    const config = compileParseConfig({ keyFields: o.dedupKey, eventTimeField: o.eventTime, maxRecordBytes: o.maxRecordBytes });
    const output = {
      write: (batch: Int32Array, count: number, _rangeId: number, firstSlot = 0): void => this.target!.pushMany(batch, firstSlot * SLOT_WORDS, count),
      waitedMs: 0,
    };
    this.ranges = new RangeParser(
      {
        parser: createParser(parser, config, { markLfFollows: !o.parserShadow }),
        shadow: o.parserShadow ? createParser(o.parserShadow, config) : undefined,
        shadowSample: o.shadowSample,
        maxRecordBytes: o.maxRecordBytes,
        parseTimes,
      },
      output,
    );
    this.canaryRanges = o.canaryParser
      ? new RangeParser({ parser: createParser(o.canaryParser, config, { markLfFollows: true }), shadow: undefined, shadowSample: 0, maxRecordBytes: o.maxRecordBytes, parseTimes }, output)
      : undefined;
  }

  /** This planned range is parsed here: growth observed while following (`live`), or any range when it reads history. */
  takes(plan: PlannedRange, live: boolean): boolean {
    if (this.readsHistory) return plan.framing === Framing.Lines && plan.hardEnd - plan.start <= LIVE_LANE_MAX_BYTES;
    return this.enabled && live && plan.framing === Framing.Lines && plan.hardEnd - plan.start <= LIVE_LANE_MAX_BYTES;
  }

  /** A buffer for the range `plan` (one that takes() accepted). */
  acquire(plan: PlannedRange): SharedArrayBuffer {
    const size = plan.hardEnd - plan.start;
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const length = this.free[i]!.byteLength;
      if (length >= size && (best < 0 || length < this.free[best]!.byteLength)) best = i;
    }
    if (best >= 0) {
      const buffer = this.free.splice(best, 1)[0]!;
      this.spareBytes -= buffer.byteLength;
      return buffer;
    }
    let length = LIVE_LANE_MIN_BUFFER;
    while (length < size) length *= 2;
    const buffer = new SharedArrayBuffer(length);
    this.owned.add(buffer);
    this.views.set(buffer, new Uint8Array(buffer));
    return buffer;
  }

  owns(buffer: SharedArrayBuffer): boolean {
    return this.owned.has(buffer);
  }

  release(buffer: SharedArrayBuffer): void {
    if (this.free.length < LIVE_LANE_SPARE_BUFFERS || this.spareBytes + buffer.byteLength <= LIVE_LANE_SPARE_BYTES) {
      this.free.push(buffer);
      this.spareBytes += buffer.byteLength;
      return;
    }
    // Keep the larger ones: a burst that needed them may come again.
    let smallest = 0;
    for (let i = 1; i < this.free.length; i++) if (this.free[i]!.byteLength < this.free[smallest]!.byteLength) smallest = i;
    if (this.free[smallest]!.byteLength < buffer.byteLength) {
      this.spareBytes += buffer.byteLength - this.free[smallest]!.byteLength;
      this.free[smallest] = buffer;
    }
  }

  /** Parse `task` (whose buffer came from acquire()) into `results`, synchronously. */
  parse(task: RangeTask, results: RangeResults): RangeOutcome {
    this.target = results;
    try {
      return (task.canary && this.canaryRanges ? this.canaryRanges : this.ranges).parse(task, this.views.get(task.buffer)!);
    } finally {
      this.target = undefined;
    }
  }
}
