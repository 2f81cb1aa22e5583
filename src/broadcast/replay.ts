import { Deque } from './deque.js';

/** One accepted record as the broadcaster holds it: its text, and what filters match on. */
export interface StreamRecord {
  readonly seq: number;
  /** Emit time (epoch ms, sub-millisecond): when the engine handed it to its sink. */
  readonly at: number;
  readonly text: string;
  readonly symbol: string | undefined;
  readonly type: string | undefined;
}

/** A stretch of the replay buffer for a resuming client. */
export interface ReplayStretch {
  /** Matching records after the asked-for sequence number, in order. */
  readonly records: StreamRecord[];
  /** The last sequence number looked at (records that did not match included); lastSeq when none. */
  readonly through: number;
  /** Records after lastSeq no longer held (0: nothing missed). */
  readonly missed: number;
  /** The oldest sequence number held (head + 1 when empty). */
  readonly oldest: number;
}

/** Records looked at per stretch, so a narrow filter over a large buffer is read in slices. */
const SCAN_LIMIT = 20_000;

/** Bookkeeping per record besides its text (object, fields, strings' headers). */
const RECORD_OVERHEAD = 96;

/** Recent records, bounded by bytes, for clients that reconnect with the last sequence number they saw. */
export class ReplayBuffer {
  private readonly records = new Deque<StreamRecord>();
  private held = 0;
  /** The newest sequence number assigned (records and gaps). */
  head = 0;

  constructor(private readonly capacityBytes: number) {}

  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.records.length;
  }

  get oldest(): number {
    return this.records.peek()?.seq ?? this.head + 1;
  }

  add(record: StreamRecord): void {
    this.head = record.seq;
    if (this.capacityBytes === 0) return;
    this.records.push(record);
    this.held += cost(record);
    while (this.held > this.capacityBytes && this.records.length > 0) this.held -= cost(this.records.shift()!);
  }

  /** Sequence numbers that were assigned to records never held (lost before reaching the broadcaster). */
  skip(count: number): void {
    this.head += count;
  }

  /** Up to `maxChars` of matching records with seq > lastSeq (lastSeq ≤ head). */
  after(lastSeq: number, maxChars: number, match: (r: StreamRecord) => boolean): ReplayStretch {
    const oldest = this.oldest;
    const missed = Math.max(0, oldest - lastSeq - 1);
    // Sequence numbers ascend; lost batches leave holes: binary search.
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records.at(mid)!.seq <= lastSeq) lo = mid + 1;
      else hi = mid;
    }
    const records: StreamRecord[] = [];
    let chars = 0;
    let through = Math.max(lastSeq, oldest - 1);
    let i = lo;
    for (; i < this.records.length && i - lo < SCAN_LIMIT; i++) {
      const r = this.records.at(i)!;
      if (match(r)) {
        if (records.length > 0 && chars + r.text.length > maxChars) break;
        records.push(r);
        chars += r.text.length;
      }
      through = r.seq;
    }
    // Read to the end: sequence numbers past the last record held were lost ones.
    if (i === this.records.length) through = this.head;
    return { records, through, missed, oldest };
  }
}

function cost(record: StreamRecord): number {
  return record.text.length + RECORD_OVERHEAD;
}
