/*
 * A JetStream durable pull consumer as an input. Messages are fetched in
 * batches and appended to a spool file (nats-spool.ts) that the engine
 * follows like any input; a message is acked only once a checkpoint covers
 * its line, i.e. once the sink has the record (the engine flushes the sink
 * before each checkpoint). A restart resumes from the consumer's acked
 * position; what the server delivers again that the spool already holds is
 * recognised by its stream sequence and not appended twice.
 */
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { ConfigError } from '../config/errors.js';
import type { NatsInputConfig } from '../config/nats-input.js';
import { NatsLink } from '../sinks/nats/connection.js';
import { NatsSpool } from './nats-spool.js';

const FETCH_MESSAGES = 1000;
const FETCH_EXPIRES_MS = 1000;
/** `once`: how long fetches may keep failing before the run gives up. */
const DRAIN_RETRY_MS = 30_000;
/**
 * The server delivers a message again when it is not acked within the ack
 * wait (config.ackWaitMs): one waiting for a checkpoint (the sink slow or
 * away) is told we are still working on it every third of it, and one
 * delivered but lost in a crash comes back that soon after the restart.
 */
const NS_PER_MS = 1_000_000;

export interface NatsInputEvents {
  warn(message: string): void;
  info(message: string): void;
}

export class NatsInput {
  readonly name: string;
  private link: NatsLink | undefined;
  private consumer: Consumer | undefined;
  private spool: NatsSpool | undefined;
  /** Fetched batches waiting for a checkpoint to cover them, in spool order: `end` is the spool length after them. */
  private waiting: { end: number; messages: JsMsg[] }[] = [];
  private running: Promise<void> | undefined;
  private workingTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  received = 0;
  acked = 0;
  /** Delivered again and already in the spool (not appended). */
  redelivered = 0;

  constructor(
    readonly config: NatsInputConfig,
    readonly spoolPath: string,
    private readonly events: NatsInputEvents,
  ) {
    this.name = `nats-input:${config.subject}/${config.durable}`;
  }

  /** Connect, find the stream, create or check the durable consumer, open the spool. */
  async open(): Promise<void> {
    const { jetstreamManager, jetstream, AckPolicy, DeliverPolicy, JetStreamApiError } = await import('@nats-io/jetstream');
    const c = this.config;
    this.link = new NatsLink(
      c,
      {
        down: (m) => this.events.warn(`${this.name}: NATS server unavailable (${m}); retrying`),
        up: (ms, server) => this.events.info(`${this.name}: connected to ${server} again after ${Math.round(ms)} ms`),
      },
      () => {},
      (err) => this.events.warn(`${this.name}: the connection closed for good: ${err.message}`),
    );
    const nc = await this.link.open();
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    let stream = c.stream;
    if (stream === undefined) {
      try {
        stream = await jsm.streams.find(c.subject);
      } catch (err) {
        throw new ConfigError(`${c.display}: no stream takes subject ${c.subject} (${(err as Error).message})`, 'input', { cause: err });
      }
    }
    try {
      const info = await jsm.consumers.info(stream, c.durable);
      const filter = info.config.filter_subject;
      if (filter !== undefined && filter !== '' && filter !== c.subject) {
        throw new ConfigError(`${c.display}: durable consumer ${c.durable} on stream ${stream} filters ${filter}, not ${c.subject}`, 'input');
      }
      if (info.config.ack_policy !== AckPolicy.Explicit) throw new ConfigError(`${c.display}: durable consumer ${c.durable} has ack policy ${info.config.ack_policy}; the input needs explicit acks`, 'input');
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== 10014) throw err;
      await jsm.consumers.add(stream, {
        durable_name: c.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: c.subject,
        ack_wait: c.ackWaitMs * NS_PER_MS,
        max_ack_pending: c.maxAckPending,
      });
    }
    this.consumer = await jetstream(nc).consumers.get(stream, c.durable);
    this.spool = new NatsSpool(this.spoolPath);
    if (this.spool.recovered > 0) this.events.info(`${this.name}: ${this.spool.recovered} message(s) of a batch a crash interrupted were found in the spool and recorded`);
    if (this.spool.unrecordedBytes > 0) {
      this.events.warn(`${this.name}: ${this.spool.unrecordedBytes} spooled bytes are not in its state file (lost?); their messages may be spooled again (keyed records are dropped as duplicates by the dedup table)`);
    }
    this.events.info(`${this.name}: stream ${stream}, durable consumer ${c.durable}, spool ${this.spoolPath} (up to stream sequence ${this.spool.lastSeq})`);
  }

  /** One fetch: resolves to the messages appended to the spool. */
  async fetchOnce(): Promise<number> {
    const batch = await this.consumer!.fetch({ max_messages: FETCH_MESSAGES, expires: FETCH_EXPIRES_MS });
    const spool = this.spool!;
    const fresh: { data: Uint8Array; seq: number }[] = [];
    const messages: JsMsg[] = [];
    const inBatch = new Set<number>();
    for await (const m of batch) {
      this.received++;
      messages.push(m);
      // Already spooled (delivered again after a restart or an ack wait): only its ack is due.
      if (spool.has(m.seq) || inBatch.has(m.seq)) this.redelivered++;
      else {
        inBatch.add(m.seq);
        fresh.push({ data: m.data, seq: m.seq });
      }
    }
    if (messages.length === 0) return 0;
    fresh.sort((a, b) => a.seq - b.seq);
    spool.append(fresh);
    this.waiting.push({ end: spool.bytes, messages });
    return fresh.length;
  }

  /**
   * `once`: fetch until the consumer has nothing pending, and nothing
   * delivered to an earlier run that died before acking it (it comes again
   * once its ack wait is over).
   */
  async drain(): Promise<void> {
    let failingSince: number | undefined;
    for (;;) {
      let n: number;
      try {
        n = await this.fetchOnce();
        failingSince = undefined;
      } catch (err) {
        // A fetch that failed on a busy machine or during an election ("heartbeats
        // missed", a timeout): what it had delivered comes again after its ack
        // wait (the spool knows its sequences), so it is retried, for a while.
        failingSince ??= Date.now();
        if (Date.now() - failingSince > DRAIN_RETRY_MS) throw err;
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (n > 0) continue;
      const info = await this.consumer!.info();
      const ours = this.waiting.reduce((sum, b) => sum + b.messages.length, 0);
      if (info.num_pending === 0 && info.num_ack_pending <= ours) return;
    }
  }

  /** Follow: fetch in the background until stop(). */
  start(): void {
    this.workingTimer = setInterval(() => {
      for (const batch of this.waiting) for (const m of batch.messages) m.working();
    }, Math.max(500, this.config.ackWaitMs / 3));
    this.workingTimer.unref();
    this.running = (async () => {
      while (!this.stopped) {
        try {
          await this.fetchOnce();
        } catch (err) {
          if (this.stopped) return;
          // A fetch that failed (server away, leader election): the next one retries.
          await new Promise((r) => setTimeout(r, 250));
          if (!this.link?.connected) continue;
          this.events.warn(`${this.name}: fetch failed: ${(err as Error).message}`);
        }
      }
    })();
  }

  /** Why it cannot read now (undefined: it can); /readyz reports it. */
  notReadyReason(): string | undefined {
    return this.link?.outage;
  }

  /** Spooled, waiting for a checkpoint before their ack. */
  get ackPending(): number {
    return this.waiting.reduce((n, b) => n + b.messages.length, 0);
  }

  get reconnects(): number {
    return this.link?.reconnects ?? 0;
  }

  /** A checkpoint covers the spool up to `offset`: those messages are the sink's, ack them. */
  covered(offset: number): void {
    while (this.waiting.length > 0 && this.waiting[0]!.end <= offset) {
      for (const m of this.waiting.shift()!.messages) {
        m.ack();
        this.acked++;
      }
    }
  }

  /** Stop fetching (what is spooled stays for the engine to read, now or after a restart). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.workingTimer);
    await this.running;
  }

  /** After the final checkpoint: acks sent, connection closed. */
  async close(): Promise<void> {
    await this.stop();
    await this.link?.nc?.flush().catch(() => {});
    await this.link?.close();
    this.spool?.close();
  }
}

/** The inputs' counts, summed, in the engine's registry (when a metrics server runs). Once per registry. */
export async function registerNatsInputMetrics(registry: import('prom-client').Registry, inputs: readonly NatsInput[]): Promise<void> {
  if (inputs.length === 0 || registry.getSingleMetric('ordertail_nats_input_received_total')) return;
  const { ScrapedMetrics } = await import('../metrics/scraped.js');
  const metrics = new ScrapedMetrics(registry);
  const sum = (f: (i: NatsInput) => number) => () => inputs.reduce((n, i) => n + f(i), 0);
  metrics.counter('ordertail_nats_input_received_total', "Messages the NATS inputs' durable consumers delivered (redeliveries included).", sum((i) => i.received));
  metrics.counter('ordertail_nats_input_acked_total', 'Messages acked once a checkpoint covered their records.', sum((i) => i.acked));
  metrics.counter('ordertail_nats_input_redelivered_total', 'Messages delivered again that the spool already held (acked, not spooled twice).', sum((i) => i.redelivered));
  metrics.gauge('ordertail_nats_input_ack_pending', 'Messages spooled and waiting for a checkpoint before their ack.', sum((i) => i.ackPending));
  metrics.counter('ordertail_nats_input_reconnects_total', 'Connections made again after the server went away.', sum((i) => i.reconnects));
}
