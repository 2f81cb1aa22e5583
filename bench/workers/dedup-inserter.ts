/**
 * Bench worker: attaches the shared DedupTable and, each time the main thread
 * bumps control[GEN], inserts its share (every `threads`-th record, from its
 * own offset) of the next `perRound` stream records, then adds 1 to
 * control[DONE] and notifies. Exits on STOP. Synchronised with Atomics only.
 */
import { workerData } from 'node:worker_threads';
import { DedupTable } from '../../src/dedup/table.js';
import { BASE_TIME_MS, attachDedupStream } from '../dedup-stream.js';

export const CTL_GEN = 0;
export const CTL_DONE = 1;
export const CTL_STOP = 2;
/** Int32 slots the control buffer needs (NEW counts follow, one per thread). */
export const CTL_WORDS = 4;

interface DedupInserterWorkerData {
  readonly table: SharedArrayBuffer;
  readonly lo: SharedArrayBuffer;
  readonly hi: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly threads: number;
  readonly threadId: number;
  readonly perRound: number;
  /** Stream position of round 1's first record. */
  readonly startAt: number;
}

function main(data: DedupInserterWorkerData): void {
  const ctl = new Int32Array(data.control);
  const table = DedupTable.attach(data.table);
  const stream = attachDedupStream(data.lo, data.hi);
  const mask = stream.length - 1;
  const lo = stream.lo;
  const hi = stream.hi;
  let gen = 0;
  let fresh = 0;
  for (;;) {
    while (Atomics.load(ctl, CTL_GEN) === gen && Atomics.load(ctl, CTL_STOP) === 0) {
      Atomics.wait(ctl, CTL_GEN, gen, 1000);
    }
    if (Atomics.load(ctl, CTL_STOP) !== 0) return;
    gen = Atomics.load(ctl, CTL_GEN);
    const start = data.startAt + (gen - 1) * data.perRound;
    for (let g = start + data.threadId, end = start + data.perRound; g < end; g += data.threads) {
      const k = g & mask;
      if (table.insert(lo[k]!, hi[k]!, BASE_TIME_MS + g) === 0) fresh++;
    }
    Atomics.store(ctl, CTL_WORDS + data.threadId, fresh);
    Atomics.add(ctl, CTL_DONE, 1);
    Atomics.notify(ctl, CTL_DONE);
  }
}

if (workerData) main(workerData as DedupInserterWorkerData);
