/*
 * Records of a sink chunk → where each one is and its Nats-Msg-Id.
 *
 * The id must be the same on every host and every retry, so that JetStream's
 * duplicate window drops what another engine (or this one, before a crash)
 * already published:
 * - a keyed record: `k` + the 64-bit key hash the engine deduplicated on (hex),
 *   `.` + its event time (ms) when it has one. The event time is part of the
 *   id because an order id legitimately reused outside the dedup window is a
 *   second record, and a backfill publishes both within seconds, inside the
 *   stream's duplicate window; copies of one order carry the same time.
 * - a record without a key: `u` + the identity of the file it was read from
 *   (`dev:ino`) + `@` + its byte offset, which the staging buffer passes along
 *   (ChunkOrigins). Only a retry or a restart of this engine repeats that.
 *   Written without origins (not through the engine), the id is the sha256 of
 *   the bytes: identical lines then collapse.
 *
 * The sink sees only record bytes, so they are parsed again (sinks/record-slots.ts).
 */
import { createHash } from 'node:crypto';
import { SLOT_F64_WORDS, SLOT_WORDS, Status, STATUS_CODE_MASK, StatusFlag, W_EVENT_TIME_F64, W_HASH_HI, W_HASH_LO, W_LENGTH, W_OFFSET, W_STATUS } from '../../parser/contract.js';
import { RecordSlotReader, type RecordSlotOptions } from '../record-slots.js';
import type { ChunkOrigins } from '../sink.js';


export type MsgIdOptions = RecordSlotOptions;

/** The records of the last chunk given to `read`: [0, count). Reused from chunk to chunk. */
export class ChunkRecords {
  count = 0;
  readonly offsets: number[] = [];
  readonly lengths: number[] = [];
  readonly ids: string[] = [];
}

/** Hex digits as char codes. */
const HEX_CODES = Buffer.from('0123456789abcdef', 'latin1');
/** 'k', 16 hex digits, '.', an event time (at most 24 characters as JS prints a double). */
const scratch = Buffer.allocUnsafe(64);

function putHex(n: number, p: number): number {
  for (let shift = 28; shift >= 0; shift -= 4) scratch[p++] = HEX_CODES[(n >>> shift) & 0xf]!;
  return p;
}

/**
 * The id of a keyed record (exported for tests and tools reading the stream).
 * Written as bytes and read back as one flat string: concatenated pieces make
 * a rope the client then flattens when it encodes the header, and
 * Number#toString(16) with padStart cost ~0.5 µs a word (a third of the sink's time).
 */
export function keyedMsgId(hashHi: number, hashLo: number, eventTimeMs: number | undefined): string {
  scratch[0] = 0x6b; // 'k'
  let p = putHex(hashLo, putHex(hashHi, 1));
  if (eventTimeMs !== undefined) {
    scratch[p++] = 0x2e; // '.'
    if (Number.isSafeInteger(eventTimeMs) && eventTimeMs >= 0) {
      // Digits straight into the buffer: no number-to-string allocation for the usual case.
      let n = eventTimeMs;
      const start = p;
      do {
        scratch[p++] = 0x30 + (n % 10);
        n = Math.floor(n / 10);
      } while (n > 0);
      scratch.subarray(start, p).reverse();
    } else {
      p += scratch.write(String(eventTimeMs), p, 'latin1');
    }
  }
  return scratch.toString('latin1', 0, p);
}

export class MsgIdReader {
  private readonly records: RecordSlotReader;

  constructor(options: MsgIdOptions) {
    this.records = new RecordSlotReader(options);
  }

  /** Fill `out` with the records of `chunk` (newline-terminated records, as a sink is written). */
  read(chunk: Uint8Array, origins: ChunkOrigins | undefined, out: ChunkRecords): void {
    let n = 0;
    // Records come in offset order: the origin note covering each is found by walking forward.
    let note = 0;
    this.records.forEachSlot(chunk, (slots, f64, s) => {
      const w = s * SLOT_WORDS;
      const status = slots[w + W_STATUS]!;
      const code = status & STATUS_CODE_MASK;
      const offset = slots[w + W_OFFSET]!;
      const length = slots[w + W_LENGTH]!;
      let id: string;
      if (code === Status.KEYED) {
        const t = f64[s * SLOT_F64_WORDS + W_EVENT_TIME_F64]!;
        const valid = t === t && (status & StatusFlag.EVENT_TIME_INVALID) === 0;
        id = keyedMsgId(slots[w + W_HASH_HI]!, slots[w + W_HASH_LO]!, valid ? t : undefined);
      } else if (origins && origins.count > 0) {
        while (note + 1 < origins.count && origins.at[note + 1]! <= offset) note++;
        id = `u${origins.origin[note]}@${origins.filePos[note]! + offset - origins.at[note]!}`;
      } else {
        // Not through the engine (or a line the engine passed that this parser rejects): by content.
        id = `h${createHash('sha256').update(chunk.subarray(offset, offset + length)).digest('hex').slice(0, 32)}`;
      }
      // The engine accepted every record it wrote, so every slot is published, whatever
      // this parser says of it: a record is never dropped here.
      out.offsets[n] = offset;
      out.lengths[n] = length;
      out.ids[n] = id;
      n++;
    });
    out.count = n;
  }
}
