/**
 * Runs inside each Piscina worker thread. Per task it parses one byte range of
 * a file (src/range/range-parser.ts) and streams the fixed-size result slots
 * into this thread's own ring. The only per-range message is the small
 * RangeOutcome returned to Piscina.
 */
import { workerData } from 'node:worker_threads';
import { compileParseConfig } from '../src/parser/contract.js';
import type { ParseWorkerData, RangeOutcome, RangeTask } from '../src/pool/range-task.js';
import { RingProducer } from '../src/ring/producer.js';
import { createParser } from '../src/parser/select.js';
import { RangeParser } from '../src/range/range-parser.js';
import { stepDownThisThread } from '../src/util/thread-priority.js';

const data = workerData as ParseWorkerData;
// Followed files: history must never delay the main thread, which carries
// the live lane (engine/live-lane.ts); not permitted here, history competes as an equal.
if (data.yieldToMainThread) stepDownThisThread(data.yieldToMainThread);
const config = compileParseConfig({
  keyFields: data.keyFields,
  eventTimeField: data.eventTimeField,
  maxRecordBytes: data.maxRecordBytes,
});

// Each thread claims one ring for its lifetime, so every ring has exactly one
// producer (this thread) and one consumer (the main thread).
const ringIndex = Atomics.add(new Int32Array(data.claimBuffer), 0, 1);
const ringBuffer = data.ringBuffers[ringIndex];
if (!ringBuffer) throw new Error(`parse worker: no free result ring (claimed #${ringIndex} of ${data.ringBuffers.length})`);
const ring = new RingProducer(ringBuffer, data.doorbellBuffer, { stallLimitMs: data.ringStallLimitMs });

const ranges = new RangeParser(
  {
    // The native parser can mark LF_FOLLOWS itself while it has the bytes at hand
    // (not under shadow comparison, which compares against a parser that does not).
    parser: createParser(data.parser, config, { markLfFollows: !data.parserShadow }),
    shadow: data.parserShadow ? createParser(data.parserShadow, config) : undefined,
    shadowSample: data.shadowSample,
    maxRecordBytes: data.maxRecordBytes,
  },
  ring,
);

// Files in the canary share are parsed by the canary parser instead (pool/canary.ts).
const canaryRanges = data.canaryParser
  ? new RangeParser({ parser: createParser(data.canaryParser, config, { markLfFollows: true }), shadow: undefined, shadowSample: 0, maxRecordBytes: data.maxRecordBytes }, ring)
  : undefined;

const bufferViews = new WeakMap<SharedArrayBuffer, Uint8Array>();

function viewOf(sab: SharedArrayBuffer): Uint8Array {
  let view = bufferViews.get(sab);
  if (!view) bufferViews.set(sab, (view = new Uint8Array(sab)));
  return view;
}

export default function parseRange(task: RangeTask): RangeOutcome {
  return (task.canary && canaryRanges ? canaryRanges : ranges).parse(task, viewOf(task.buffer));
}

/**
 * A second task this pool runs (Piscina's `name` option): folding a committed
 * dedup journal into a snapshot, off the main thread (checkpoint/dedup-compaction.ts).
 */
export { compactDedup } from '../src/checkpoint/dedup-compaction.js';
