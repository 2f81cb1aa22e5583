import type { WebSocket } from 'ws';
import type { BroadcastConfig } from '../config/broadcast.js';
import { Deque } from './deque.js';
import { CLOSE_SLOW, gapFrame, laggingFrame, recordEntry, RECORDS_PREFIX, RECORDS_SUFFIX } from './protocol.js';
import type { ReplayBuffer, StreamRecord } from './replay.js';
import type { BroadcastStats, DisconnectReason } from './stats.js';
import { matches, type Subscription } from './subscription.js';
import { projectRecord } from './record-fields.js';

/** One record as queued for a client: its element of a records frame, shared by clients with the same fields. */
export interface Entry {
  readonly seq: number;
  readonly at: number;
  readonly json: string;
}

/** What a client uses of the server it belongs to. */
export interface ClientHost {
  readonly config: BroadcastConfig;
  readonly stats: BroadcastStats;
  readonly replay: ReplayBuffer;
  /** Emit → handed to the socket, microseconds, for `count` records. */
  recordLatency(micros: number, count: number): void;
  now(): number;
}

/** A frame's text is capped so one slow socket holds little, and a catch-up interleaves with live clients. */
export const MAX_FRAME_CHARS = 256 * 1024;
/** A client closed for being slow that does not finish the closing handshake is cut off after this. */
const CLOSE_GRACE_MS = 5000;

/**
 * One connection: its filter, its bounded queue, and the frames in flight.
 * Nothing here waits for the socket: records are queued (or dropped by the
 * policy) at once, and a frame goes out when the previous one has been handed
 * to the kernel, so a client that stops reading costs its queue bound and one
 * frame, and nobody else's time.
 */
export class Client {
  private readonly queue = new Deque<Entry>();
  private queuedChars = 0;
  private readonly notices: string[] = [];
  private inFlight = 0;
  /** Resuming: the last sequence number taken from the replay buffer; undefined once live. */
  private catchUpAfter: number | undefined;
  private droppedSinceNotice = 0;
  private droppedTotal = 0;
  private lastDroppedSeq = 0;
  private tokens: number;
  private refilledAt: number;
  closeReason: DisconnectReason | undefined;
  /** Messages refused for exceeding the rate; past a burst's worth more the client is closed. */
  rateViolations = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly host: ClientHost,
    public subscription: Subscription,
  ) {
    this.tokens = host.config.messagesPerSecond * 2;
    this.refilledAt = host.now();
  }

  get live(): boolean {
    return this.catchUpAfter === undefined && this.closeReason === undefined;
  }

  /**
   * In step with the stream: live, with nothing queued, in flight or to
   * notify. Such a client can be sent a frame encoded once for every client
   * with its filter (sendShared), the common case of many dashboards.
   */
  get inStep(): boolean {
    return this.live && this.inFlight === 0 && this.queue.length === 0 && this.notices.length === 0 && this.droppedSinceNotice === 0 && this.ws.readyState === this.ws.OPEN;
  }

  /** A records frame shared with other clients (bytes of the text frame, already encoded); only when inStep. */
  sendShared(frame: Buffer, groups: number[], records: number): void {
    this.send(frame, groups, records);
  }

  /** A message from the client may be handled: false when it exceeds its rate. */
  takeMessageToken(): boolean {
    const now = this.host.now();
    const rate = this.host.config.messagesPerSecond;
    this.tokens = Math.min(rate * 2, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Frames sent ahead of the next records (acknowledgements, errors, notices), in order. */
  notice(frame: string): void {
    if (this.closeReason) return;
    this.notices.push(frame);
    this.pump();
  }

  /** Deliver from the replay buffer everything after `lastSeq`, then go live. */
  resume(lastSeq: number): void {
    this.dropQueue();
    const replay = this.host.replay;
    if (lastSeq > replay.head) {
      this.notices.push(gapFrame(lastSeq, replay.head + 1, 0, 'future'));
      this.host.stats.resumes.gap++;
      this.catchUpAfter = undefined;
    } else {
      this.catchUpAfter = lastSeq;
      if (replay.oldest > lastSeq + 1) this.host.stats.resumes.gap++;
      else this.host.stats.resumes.replayed++;
    }
    this.pump();
  }

  /** Live: queue a record (already matched); the slow policy applies when the queue is full. */
  enqueue(entry: Entry): void {
    this.queue.push(entry);
    this.queuedChars += entry.json.length;
    const { queueBytes, queueMessages, slowPolicy } = this.host.config;
    if (this.queuedChars <= queueBytes && this.queue.length <= queueMessages) return;
    if (slowPolicy === 'disconnect') {
      this.close(CLOSE_SLOW, 'slow', `lagging: more than ${queueMessages} records or ${queueBytes} bytes queued`);
      return;
    }
    while (this.queue.length > 0 && (this.queuedChars > queueBytes || this.queue.length > queueMessages)) {
      const dropped = this.queue.shift()!;
      this.queuedChars -= dropped.json.length;
      this.droppedSinceNotice++;
      this.droppedTotal++;
      this.lastDroppedSeq = dropped.seq;
      this.host.stats.dropped['drop-oldest']++;
    }
  }

  /** Send what is waiting, one frame at a time. */
  pump(): void {
    if (this.inFlight > 0 || this.closeReason || this.ws.readyState !== this.ws.OPEN) return;
    for (const frame of this.notices.splice(0)) this.send(frame, undefined);
    if (this.droppedSinceNotice > 0) {
      this.send(laggingFrame(this.droppedSinceNotice, this.droppedTotal, this.lastDroppedSeq), undefined);
      this.droppedSinceNotice = 0;
    }
    if (this.catchUpAfter !== undefined) this.catchUp();
    else this.sendQueued();
  }

  private sendQueued(): void {
    if (this.queue.length === 0) return;
    // Joined once: a string grown by += is a rope thousands of pieces deep, and
    // flattening it (to count or send its bytes) cost more than the rest of the fan-out.
    const parts: string[] = [];
    const groups: number[] = [];
    let chars = RECORDS_PREFIX.length;
    while (this.queue.length > 0 && (parts.length === 0 || chars + this.queue.peek()!.json.length < MAX_FRAME_CHARS)) {
      const e = this.queue.shift()!;
      this.queuedChars -= e.json.length;
      parts.push(e.json);
      chars += e.json.length + 1;
      addGroup(groups, e.at);
    }
    this.send(RECORDS_PREFIX + parts.join(',') + RECORDS_SUFFIX, groups, parts.length);
  }

  /** Resuming: the next frame's worth from the replay buffer; live once it has caught up. */
  private catchUp(): void {
    const replay = this.host.replay;
    const after = this.catchUpAfter!;
    const { records, through, missed, oldest } = replay.after(after, MAX_FRAME_CHARS, (r) => matches(this.subscription, r.symbol, r.type));
    if (missed > 0) this.send(gapFrame(after, oldest, missed, 'replay'), undefined);
    this.catchUpAfter = through >= replay.head ? undefined : through;
    if (records.length === 0 && this.catchUpAfter !== undefined) {
      // Nothing matched within this stretch: keep reading without a frame.
      setImmediate(() => this.pump());
      return;
    }
    if (records.length === 0) return;
    const groups: number[] = [];
    const parts = records.map((r) => {
      addGroup(groups, r.at);
      return entryFor(r, this.subscription);
    });
    this.send(RECORDS_PREFIX + parts.join(',') + RECORDS_SUFFIX, groups, records.length);
  }

  private send(frame: string | Buffer, groups: number[] | undefined, records = groups ? countOf(groups) : 0): void {
    this.inFlight++;
    const stats = this.host.stats;
    stats.framesSent++;
    // Encoded here, once: the socket needs the bytes and the stats their count.
    const bytes = typeof frame === 'string' ? Buffer.from(frame) : frame;
    stats.bytesSent += bytes.length;
    stats.recordsSent += records;
    this.ws.send(bytes, { binary: false }, (err) => {
      this.inFlight--;
      if (err) return;
      if (groups) {
        const now = this.host.now();
        for (let i = 0; i < groups.length; i += 2) this.host.recordLatency((now - groups[i]!) * 1000, groups[i + 1]!);
      }
      if (this.inFlight === 0) this.pump();
    });
  }

  private dropQueue(): void {
    this.queue.clear();
    this.queuedChars = 0;
  }

  /** Close with `code`; a client that does not answer the close is cut off. Counted once, by `reason`. */
  close(code: number, reason: DisconnectReason, text: string): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    if (reason === 'slow') this.host.stats.dropped.disconnect += this.queue.length;
    // Answers to what it sent go out before the close frame; a slow client gets nothing more.
    else if (this.ws.readyState === this.ws.OPEN) for (const frame of this.notices.splice(0)) this.send(frame, undefined);
    this.notices.length = 0;
    this.dropQueue();
    this.ws.close(code, text.slice(0, 120));
    const cut = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    cut.unref();
    this.ws.once('close', () => clearTimeout(cut));
  }
}

/** Latency groups: (emit time, records) pairs; records of one sink batch share their emit time. */
function addGroup(groups: number[], at: number): void {
  const n = groups.length;
  if (n > 0 && groups[n - 2] === at) groups[n - 1]!++;
  else groups.push(at, 1);
}

function countOf(groups: number[]): number {
  let n = 0;
  for (let i = 1; i < groups.length; i += 2) n += groups[i]!;
  return n;
}

export function entryFor(r: StreamRecord, s: Subscription): string {
  return recordEntry(r.seq, r.at, s.fields ? projectRecord(r.text, s.fields) : r.text);
}
