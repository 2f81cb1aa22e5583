/*
 * The NATS JetStream sink: every record the engine accepts is published to
 * the stream's subject with a Nats-Msg-Id that is the same on every host and
 * every retry (msg-ids.ts), so the stream's duplicate window drops copies
 * published by another engine or republished after a crash.
 *
 * At most `window` records wait for their ack (ack-window.ts); write() waits
 * while the window is full, so the engine's emission, and behind it its
 * readers, wait too, and memory stays flat through an outage. flush() waits
 * for every ack: the engine flushes the sink before each checkpoint, so a
 * checkpoint's offsets never pass a record the stream has not stored, and a
 * restart after kill -9 republishes only what the stream then reports as
 * duplicates.
 */
import type { Registry } from 'prom-client';
import type { NatsSinkConfig } from '../../config/nats-sink.js';
import { EngineError } from '../../config/errors.js';
import { DeadLetterFile } from '../dead-letter.js';
import type { ChunkOrigins, Sink } from '../sink.js';
import type { AckWindow } from './ack-window.js';
import type { NatsLink } from './connection.js';
import { NatsSinkMetrics, type NatsSinkStats } from './metrics.js';
import { ChunkRecords, MsgIdReader } from './msg-ids.js';

export interface NatsSinkOptions {
  readonly dedupKey: readonly string[];
  readonly eventTimeField: string;
  readonly maxRecordBytes: number;
  readonly dedupWindowMs: number;
  readonly warn: (message: string) => void;
  readonly info: (message: string) => void;
  /** A record the server cannot take (larger than its max_payload). */
  readonly deadLetter?: ((entry: { file: string; offset: number; reason: string; sample: string; error: string }) => void) | undefined;
}

/** Bytes kept free of max_payload for the Msg-Id header and the protocol line. */
const HEADER_ROOM = 512;

export class NatsSink implements Sink {
  readonly name: string;
  readonly wantsOrigins = true;
  readonly metrics = new NatsSinkMetrics();
  private readonly reader: MsgIdReader;
  private readonly records = new ChunkRecords();
  private link: NatsLink | undefined;
  private acks: AckWindow | undefined;
  private maxPayload = 1024 * 1024;
  /** A write waiting for room: the rest of its chunk is published by it. */
  private writing: Promise<void> | undefined;
  private failure: EngineError | undefined;
  /** The window is full and the server away or not acking: said once per episode. */
  private stalledSince: number | undefined;

  constructor(
    readonly config: NatsSinkConfig,
    private readonly options: NatsSinkOptions,
  ) {
    this.name = `nats:${config.stream.name}/${config.subject}`;
    this.reader = new MsgIdReader(options);
    this.metrics.inFlight = () => this.acks?.inFlight ?? 0;
    this.metrics.reconnects = () => this.link?.reconnects ?? 0;
  }

  async registerMetrics(registry: Registry): Promise<void> {
    const { registerNatsMetrics } = await import('./metrics-export.js');
    registerNatsMetrics(registry, this.metrics);
  }

  stats(): NatsSinkStats {
    return this.metrics.stats();
  }

  /** Connect (waiting for the server as long as it takes), then create or check the stream. */
  async connect(): Promise<void> {
    const [{ NatsLink }, { AckWindow }, { ensureStream }, { headers, createInbox }] = await Promise.all([
      import('./connection.js'),
      import('./ack-window.js'),
      import('./stream.js'),
      import('@nats-io/transport-node'),
    ]);
    const { warn, info } = this.options;
    const link = new NatsLink(
      this.config,
      {
        down: (message) => warn(`${this.name}: NATS server unavailable (${message}); holding up to ${this.config.window} un-acked records and retrying`),
        up: (ms, server) => info(`${this.name}: connected to ${server} again after ${Math.round(ms)} ms`),
      },
      () => this.acks?.reconnected(),
      (err) => {
        this.failure = new EngineError('ORDERTAIL_SINK', `${this.name}: the connection closed for good: ${err.message}`, { cause: err });
        this.acks?.abort(this.failure);
      },
    );
    this.link = link;
    const nc = await link.open();
    const said = await ensureStream(nc, this.config, this.options.dedupWindowMs);
    this.maxPayload = nc.info?.max_payload ?? this.maxPayload;
    info(`${this.name}: ${said}; publishing with a window of ${this.config.window} un-acked records`);
    this.acks = new AckWindow(nc, this.config.subject, this.config.window, this.config.ackTimeoutMs, headers, createInbox(), this.metrics, {
      connected: () => link.connected,
      jetStreamError: (d) => warn(`${this.name}: JetStream refused a publish (${d}); retrying with the same Msg-Id`),
      swept: (oldestMs) => this.checkStall(oldestMs),
    });
  }

  write(chunk: Uint8Array, origins?: ChunkOrigins): true | Promise<void> {
    if (this.failure) throw this.failure;
    const acks = this.acks;
    if (!acks) throw new EngineError('ORDERTAIL_SINK', `${this.name}: write before connect()`);
    const records = this.records;
    this.reader.read(chunk, origins, records);
    // Kept until acked (a resend needs the bytes); the caller reuses `chunk` once write() returns.
    const copy = Buffer.allocUnsafe(chunk.length);
    copy.set(chunk);
    for (let i = 0; i < records.count; i++) {
      if (acks.full) return (this.writing = this.publishRest(copy, records.offsets.slice(i, records.count), records.lengths.slice(i, records.count), records.ids.slice(i, records.count)));
      this.publishOne(acks, copy, records.offsets[i]!, records.lengths[i]!, records.ids[i]!);
    }
    return true;
  }

  private publishOne(acks: AckWindow, copy: Buffer, offset: number, length: number, id: string): void {
    if (length + HEADER_ROOM > this.maxPayload) {
      this.metrics.tooLarge++;
      const error = `${length} bytes; the server takes at most ${this.maxPayload - HEADER_ROOM} per record (max_payload ${this.maxPayload})`;
      this.options.warn(`${this.name}: a record is too large for the NATS server (${error}); dead-lettered`);
      this.options.deadLetter?.({ file: this.name, offset: -1, reason: 'too_large_for_nats', sample: DeadLetterFile.sampleOf(copy, offset, length), error });
      return;
    }
    acks.publish(copy.subarray(offset, offset + length), id);
  }

  /** The window filled part-way through a chunk: the rest goes out as acks free room. */
  private async publishRest(copy: Buffer, offsets: number[], lengths: number[], ids: string[]): Promise<void> {
    const acks = this.acks!;
    try {
      for (let i = 0; i < offsets.length; i++) {
        while (acks.full) {
          if (!this.link!.connected) this.stalled('the NATS server is unreachable');
          await acks.whenRoom();
          if (this.failure) throw this.failure;
        }
        this.publishOne(acks, copy, offsets[i]!, lengths[i]!, ids[i]!);
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** From the sweeper: a full window whose oldest record waited past the ack timeout is a stall. */
  private checkStall(oldestMs: number): void {
    const acks = this.acks!;
    if (this.stalledSince === undefined) {
      if (acks.full && (!this.link!.connected || oldestMs > this.config.ackTimeoutMs)) {
        this.stalled(this.link!.connected ? `no ack for ${Math.round(oldestMs)} ms` : 'the NATS server is unreachable');
      }
    } else if (!acks.full && this.link!.connected) {
      const ms = Date.now() - this.stalledSince;
      this.stalledSince = undefined;
      this.options.info(`${this.name}: the window has room again after ${ms} ms; reading resumed`);
    }
  }

  private stalled(why: string): void {
    if (this.stalledSince !== undefined) return;
    this.stalledSince = Date.now();
    this.metrics.windowFull++;
    this.options.warn(`${this.name}: ${this.config.window} records wait for an ack (${why}); reading paused until the stream acks them`);
  }

  notReadyReason(): string | undefined {
    if (this.failure) return this.failure.message;
    const outage = this.link?.outage;
    if (outage) return this.stalledSince !== undefined ? `${outage}; window of ${this.config.window} un-acked records full, reading paused` : outage;
    if (this.stalledSince !== undefined) return `window of ${this.config.window} un-acked records full, reading paused`;
    return this.acks?.failing;
  }

  /** Resolves once every record written so far is acked by the stream (not those written meanwhile). */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.writing) await this.writing;
    await this.acks?.whenPublishedAcked();
  }

  /** Un-acked records are abandoned (a restart reads them again from the last checkpoint). */
  async close(): Promise<void> {
    this.acks?.close();
    await this.link?.close();
  }
}
