/*
 * Where a NATS input's messages land before the engine reads them: an
 * append-only NDJSON file in the checkpoint directory, which the engine
 * follows like any input (one data path: dedup, sinks, checkpoints), as the
 * exchange collector's log is. Beside it, `<spool>.state` records which
 * stream sequences are in the spool (merged ranges) and the spool's length
 * then (written after the messages are on disk), so a message the server
 * delivers again after a restart is recognised and not appended twice. Ranges,
 * not a high-water mark: a batch fetched by a run killed before spooling it is
 * delivered again after later ones. Before a batch is appended, the state
 * names it (its sequences, in line order, and where it starts): a crash
 * part-way leaves whole lines for its first messages, which a restart counts
 * and records, so no message is ever in the spool twice.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

interface SpoolState {
  /** [first, last] stream sequences, sorted, disjoint, not adjacent. */
  ranges: [number, number][];
  bytes: number;
  /** A batch being appended: its sequences in line order, from spool offset `from`. */
  appending?: { seqs: number[]; from: number };
}

export class NatsSpool {
  private readonly fd: number;
  /** Stream sequences in the spool: [first, last] each, sorted and merged. */
  private readonly ranges: [number, number][];
  /** The spool's length. */
  bytes: number;
  /** Bytes found beyond the recorded state at open that no batch in progress explains (a state file lost): their messages may come again. */
  readonly unrecordedBytes: number;
  /** Messages of a batch a crash interrupted, found whole in the spool at open and recorded. */
  readonly recovered: number;

  constructor(readonly path: string) {
    const state = readState(`${path}.state`);
    this.fd = openSync(path, 'a+');
    let size = fstatSync(this.fd).size;
    // A crash mid-append can leave half a message: cut back to the last whole line
    // (the engine never reads past a line without its newline, so nothing read is cut).
    if (size > 0 && lastByte(this.fd, size) !== LF) {
      size = lastLineEnd(this.fd, size);
      ftruncateSync(this.fd, size);
    }
    this.ranges = state?.ranges ?? [];
    this.bytes = size;
    let recovered = 0;
    const appending = state?.appending;
    if (appending && size > appending.from) {
      // One message per line: the batch's first `lines` messages made it to disk.
      const lines = Math.min(appending.seqs.length, countLines(this.fd, appending.from, size));
      for (let i = 0; i < lines; i++) this.add(appending.seqs[i]!);
      recovered = lines;
    }
    this.recovered = recovered;
    this.unrecordedBytes = appending ? 0 : Math.max(0, size - (state?.bytes ?? 0));
    if (appending) this.writeState(undefined);
  }

  /**
   * Append messages (in the order given) as lines, on disk before this
   * returns, then record the highest sequence. A raw LF or CR inside a message
   * becomes a space: in JSON they can only sit between tokens, where a space
   * means the same, and the line stays one record.
   */
  append(messages: readonly { data: Uint8Array; seq: number }[]): void {
    if (messages.length === 0) return;
    let total = 0;
    for (const m of messages) total += m.data.length + 1;
    const buf = Buffer.allocUnsafe(total);
    let p = 0;
    for (const m of messages) {
      buf.set(m.data, p);
      for (let i = p; i < p + m.data.length; i++) if (buf[i] === LF || buf[i] === CR) buf[i] = SPACE;
      p += m.data.length;
      buf[p++] = LF;
    }
    this.writeState({ seqs: messages.map((m) => m.seq), from: this.bytes });
    for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
    fsyncSync(this.fd);
    this.bytes += buf.length;
    for (const m of messages) this.add(m.seq);
    this.writeState(undefined);
  }

  /** On disk (fsynced, renamed into place) before it returns. */
  private writeState(appending: SpoolState['appending']): void {
    const tmp = `${this.path}.state.tmp`;
    const state: SpoolState = { ranges: this.ranges, bytes: this.bytes, ...(appending ? { appending } : {}) };
    writeFileSync(tmp, JSON.stringify(state));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, `${this.path}.state`);
  }

  /** Whether the message with stream sequence `seq` is in the spool. */
  has(seq: number): boolean {
    const r = this.ranges;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seq < r[mid]![0]) hi = mid - 1;
      else if (seq > r[mid]![1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The highest sequence spooled (0: none). */
  get lastSeq(): number {
    return this.ranges.length === 0 ? 0 : this.ranges[this.ranges.length - 1]![1];
  }

  private add(seq: number): void {
    const r = this.ranges;
    const last = r[r.length - 1];
    // The usual case: the next sequence after the last.
    if (last && seq === last[1] + 1) {
      last[1] = seq;
      return;
    }
    if (this.has(seq)) return;
    let i = r.findIndex((x) => x[0] > seq);
    if (i < 0) i = r.length;
    r.splice(i, 0, [seq, seq]);
    // Merge with the neighbours it now touches.
    if (i + 1 < r.length && r[i + 1]![0] === seq + 1) {
      r[i]![1] = r[i + 1]![1];
      r.splice(i + 1, 1);
    }
    if (i > 0 && r[i - 1]![1] === seq - 1) {
      r[i - 1]![1] = r[i]![1];
      r.splice(i, 1);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readState(path: string): SpoolState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as Partial<SpoolState>;
    if (!Array.isArray(s.ranges) || typeof s.bytes !== 'number') return undefined;
    const a = s.appending;
    return { ranges: s.ranges, bytes: s.bytes, ...(a && Array.isArray(a.seqs) && typeof a.from === 'number' ? { appending: { seqs: a.seqs, from: a.from } } : {}) };
  } catch {
    return undefined;
  }
}

function lastByte(fd: number, size: number): number {
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0]!;
}

/** LFs in [from, to). */
function countLines(fd: number, from: number, to: number): number {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  let n = 0;
  for (let pos = from; pos < to; ) {
    const got = readSync(fd, chunk, 0, Math.min(chunk.length, to - pos), pos);
    if (got === 0) break;
    for (let i = 0; i < got; i++) if (chunk[i] === LF) n++;
    pos += got;
  }
  return n;
}

/** The offset just past the last LF before `size` (0: none). */
function lastLineEnd(fd: number, size: number): number {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(LF);
    if (i >= 0) return start + i + 1;
    end = start;
  }
  return 0;
}
