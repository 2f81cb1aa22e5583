/**
 * Bench worker: a RingProducer that writes `perRound` slots (in batches of
 * `batchSlots`) each time the main thread bumps control[GEN]; exits on STOP.
 * Started by bench/ring.ts; synchronised with Atomics only.
 */
import { workerData } from 'node:worker_threads';
import { SLOT_WORDS, W_OFFSET } from '../../src/parser/contract.js';
import { RingProducer } from '../../src/ring/producer.js';

export const CTL_GEN = 0;
export const CTL_STOP = 1;

interface RingProducerWorkerData {
  readonly ring: SharedArrayBuffer;
  readonly doorbell: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly batchSlots: number;
  readonly perRound: number;
}

function main(data: RingProducerWorkerData): void {
  const ctl = new Int32Array(data.control);
  const producer = new RingProducer(data.ring, data.doorbell, { stallLimitMs: 60_000 });
  const batch = new Int32Array(data.batchSlots * SLOT_WORDS);
  for (let s = 0; s < data.batchSlots; s++) batch[s * SLOT_WORDS + W_OFFSET] = s;
  let gen = 0;
  for (;;) {
    while (Atomics.load(ctl, CTL_GEN) === gen && Atomics.load(ctl, CTL_STOP) === 0) {
      Atomics.wait(ctl, CTL_GEN, gen, 1000);
    }
    if (Atomics.load(ctl, CTL_STOP) !== 0) return;
    gen = Atomics.load(ctl, CTL_GEN);
    for (let done = 0; done < data.perRound; done += data.batchSlots) {
      producer.write(batch, data.batchSlots, 1);
    }
  }
}

if (workerData) main(workerData as RingProducerWorkerData);
