import { REJECT_REASONS, type RejectReason } from '../parser/contract.js';

/**
 * Engine counters live in one Float64Array so the hot path bumps an index, and
 * readers (stats(), metrics scrapes) build objects only when asked.
 */
export const Counter = {
  recordsRead: 0,
  recordsEmitted: 1,
  duplicates: 2,
  rejected: 3,
  withoutKey: 4,
  eventTimeInvalid: 5,
  bytesRead: 6,
  rangesCompleted: 7,
  shadowCompared: 8,
  shadowMismatches: 9,
  canaryRanges: 10,
  canaryBytes: 11,
  paddingBytes: 12,
} as const;
export type CounterName = keyof typeof Counter;
const COUNTER_SLOTS = Object.keys(Counter).length;

/** Rejects are also counted per status code (index = status code, < 32). */
const REJECT_CODE_SLOTS = 32;
/**
 * A slot no parser status uses: a `.json` array that ends without its `]`.
 * Its elements were records; the document as a whole is what is rejected.
 */
export const TRUNCATED_DOCUMENT_SLOT = REJECT_CODE_SLOTS - 1;
export const TRUNCATED_DOCUMENT_REASON = 'truncated_document' satisfies RejectReason;

export class Counters {
  readonly values = new Float64Array(COUNTER_SLOTS);
  readonly rejectsByCode = new Float64Array(REJECT_CODE_SLOTS);

  rejectsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [code, reason] of Object.entries(REJECT_REASONS)) out[reason] = this.rejectsByCode[Number(code)] ?? 0;
    out[TRUNCATED_DOCUMENT_REASON] = this.rejectsByCode[TRUNCATED_DOCUMENT_SLOT]!;
    return out;
  }

  get(name: CounterName): number {
    return this.values[Counter[name]]!;
  }
}

/** Per-stream counts (live vs history): read, emitted, duplicates, rejected. */
export const StreamSlot = { read: 0, emitted: 1, duplicates: 2, rejected: 3 } as const;

export class StreamCounters {
  readonly live = new Float64Array(4);
  readonly history = new Float64Array(4);

  snapshot(): { live: StreamCountsView; history: StreamCountsView } {
    const view = (a: Float64Array): StreamCountsView => ({ read: a[0]!, emitted: a[1]!, duplicates: a[2]!, rejected: a[3]! });
    return { live: view(this.live), history: view(this.history) };
  }
}

export interface StreamCountsView {
  read: number;
  emitted: number;
  duplicates: number;
  rejected: number;
}
