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
import { compileParseConfig, Framing } from '../parser/contract.js';
import { createParser, type ParserName } from '../parser/select.js';
import type { RangeOutcome, RangeTask } from '../pool/range-task.js';
import type { RangeResults } from '../pool/range-results.js';
import { RangeParser } from '../range/range-parser.js';
import type { PlannedRange } from '../sources/file-cursor.js';

/**
 * Largest growth parsed on the main thread: big enough for every append of a
 * busy writer between two inotify events, small enough that parsing it never
 * holds the event loop for long (the pool takes anything larger).
 */
export const LIVE_LANE_BYTES = 1 << 20;
/**
 * Buffers of the lane: a range keeps its buffer until the sink has written
 * its records, so a few let growth be parsed while earlier growth is written.
 * With none free, growth goes to the pool as before.
 */
const LIVE_LANE_BUFFERS = 4;

export class LiveLane {
  private readonly free: SharedArrayBuffer[] = [];
  private readonly owned = new WeakSet<SharedArrayBuffer>();
  private readonly views = new WeakMap<SharedArrayBuffer, Uint8Array>();
  private readonly ranges: RangeParser;
  /** The result store of the range being parsed (set only inside parse()). */
  private target: RangeResults | undefined;

  /** @param parseTimes the main thread's parse-time histogram (µs per parser call). */
  constructor(o: ResolvedOptions, parser: ParserName, parseTimes: { recordValue(us: number): void }) {
    const config = compileParseConfig({ keyFields: o.dedupKey, eventTimeField: o.eventTime, maxRecordBytes: o.maxRecordBytes });
    const output = {
      write: (batch: Int32Array, count: number): void => this.target!.pushMany(batch, 0, count),
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
    for (let i = 0; i < LIVE_LANE_BUFFERS; i++) {
      const buffer = new SharedArrayBuffer(LIVE_LANE_BYTES);
      this.owned.add(buffer);
      this.views.set(buffer, new Uint8Array(buffer));
      this.free.push(buffer);
    }
  }

  /** This planned range of newly observed growth can be parsed here now. */
  takes(plan: PlannedRange): boolean {
    return plan.chain && plan.framing === Framing.Lines && plan.hardEnd - plan.start <= LIVE_LANE_BYTES && this.free.length > 0;
  }

  acquire(): SharedArrayBuffer {
    return this.free.pop()!;
  }

  owns(buffer: SharedArrayBuffer): boolean {
    return this.owned.has(buffer);
  }

  release(buffer: SharedArrayBuffer): void {
    this.free.push(buffer);
  }

  /** Parse `task` (whose buffer came from acquire()) into `results`, synchronously. */
  parse(task: RangeTask, results: RangeResults): RangeOutcome {
    this.target = results;
    try {
      return this.ranges.parse(task, this.views.get(task.buffer)!);
    } finally {
      this.target = undefined;
    }
  }
}
