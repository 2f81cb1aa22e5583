import { SLOT_F64_WORDS, SLOT_WORDS, STATE_SLOTS, STATE_WORDS, W_HASH_HI, W_HASH_LO, W_LENGTH, W_OFFSET, W_STATUS, W_TAG } from '../parser/contract.js';

/** Slots per parser call: large enough to amortise the call, small enough to stay in L2. */
export const BATCH_SLOTS = 2048;

/** The parser's output buffer, reused for every call of this worker. */
export class SlotBatch {
  readonly i32 = new Int32Array(BATCH_SLOTS * SLOT_WORDS);
  readonly f64 = new Float64Array(this.i32.buffer);
  readonly state = new Float64Array(STATE_WORDS);

  get count(): number {
    return this.state[STATE_SLOTS]!;
  }

  /** A slot the worker decides itself (a too-large record it never buffered whole). */
  writeSynthetic(index: number, offset: number, length: number, status: number): void {
    const w = index * SLOT_WORDS;
    this.f64[index * SLOT_F64_WORDS] = Number.NaN;
    this.i32[w + W_OFFSET] = offset;
    this.i32[w + W_LENGTH] = length;
    this.i32[w + W_HASH_LO] = 0;
    this.i32[w + W_HASH_HI] = 0;
    this.i32[w + W_STATUS] = status;
    this.i32[w + W_TAG] = 0;
  }
}
