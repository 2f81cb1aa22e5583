/*
 * A sink sees only record bytes. The sinks that need each record's key hash
 * and event time (PostgreSQL's unique key, NATS's Msg-Id) parse a chunk again
 * with a parser configured as the engine's: the native one when the addon
 * loads (one call per chunk; the same hash and time as the JS parser's, which
 * the differential tests hold it to), else the JS one. This is that pass,
 * shared.
 */
import { createParser, resolveParser } from '../parser/select.js';
import { ArrayPhase, compileParseConfig, Framing, SLOT_WORDS, STATE_CONSUMED_END, STATE_SLOTS, STATE_WORDS, type ChunkParser } from '../parser/contract.js';

const SLOTS = 4096;

export interface RecordSlotOptions {
  readonly dedupKey: readonly string[];
  readonly eventTimeField: string;
  readonly maxRecordBytes: number;
}

/** Called once per record slot, in order: read it from `slots`/`f64` at slot `s` (parser/contract.ts layout). */
export type SlotVisitor = (slots: Int32Array, f64: Float64Array, s: number) => void;

export class RecordSlotReader {
  private readonly parser: ChunkParser;
  private readonly slots = new Int32Array(SLOTS * SLOT_WORDS);
  private readonly f64 = new Float64Array(this.slots.buffer);
  private readonly state = new Float64Array(STATE_WORDS);

  constructor(options: RecordSlotOptions) {
    const config = compileParseConfig({ keyFields: options.dedupKey, eventTimeField: options.eventTimeField, maxRecordBytes: options.maxRecordBytes });
    this.parser = createParser(resolveParser('auto').name, config);
  }

  /** Parse `chunk` (newline-terminated records, as a sink is written) and visit every slot. */
  forEachSlot(chunk: Uint8Array, visit: SlotVisitor): void {
    this.forEachParse(chunk, (slots, f64, count) => {
      for (let s = 0; s < count; s++) visit(slots, f64, s);
    });
  }

  /** Parse `chunk` and hand over each parser call's slots whole (`count` of them): for a consumer that takes them in one call. */
  forEachParse(chunk: Uint8Array, visit: (slots: Int32Array, f64: Float64Array, count: number) => void): void {
    const { slots, f64, state } = this;
    let start = 0;
    while (start < chunk.length) {
      this.parser.parseChunk({ input: chunk, start, end: chunk.length, framing: Framing.Lines, final: true, carryPhase: ArrayPhase.BeforeArray }, slots, state);
      visit(slots, f64, state[STATE_SLOTS]!);
      const consumed = state[STATE_CONSUMED_END]!;
      if (consumed <= start) break;
      start = consumed;
    }
  }
}
