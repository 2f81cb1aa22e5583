/*
 * The engine's side of the broadcaster: starts its thread, and hands it a
 * copy of every sink batch. offer() only copies and posts: it never waits,
 * never throws, and holds a bounded number of bytes; when the broadcaster's
 * thread falls that far behind, batches are dropped here, counted, and the
 * clients are told of the gap.
 */
import { Worker } from 'node:worker_threads';
import type { Histogram } from 'hdr-histogram-js';
import { ConfigError } from '../config/errors.js';
import { createLazyLatencyHistogram, destroyLatencyHistogram, mergeShipped } from '../metrics/histograms.js';
import { loadToken } from './access.js';
import type { BroadcastConfig } from '../config/broadcast.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';
import { emptyStats, type BroadcastStats } from './stats.js';
import type { BatchTap } from './tee-sink.js';

/**
 * The worker beside this module's compiled form: dist/src/broadcast/. The CLI
 * bundle (dist/bundle/cli/) sits as deep under dist/, so the same relative
 * path finds it from there too (scripts/bundle.mjs).
 */
const WORKER_FILE = new URL('../../src/broadcast/broadcast-worker.js', import.meta.url);

/** Batches posted and not yet handled by the broadcaster's thread, at most. */
const MAX_PENDING_BYTES = 32 * 1024 * 1024;
const NEWLINE = 0x0a;

export interface BroadcastEndpoint {
  /** ws://host:port/ with the port bound. */
  readonly url: string;
  readonly port: number;
  readonly tokenRequired: boolean;
}

export class Broadcaster implements BatchTap, BroadcastEndpoint {
  readonly url: string;
  readonly tokenRequired: boolean;
  /** Emit → handed to a client's socket, microseconds; merged from the broadcaster's thread about every second. */
  readonly latency: Histogram = createLazyLatencyHistogram();
  private latest: BroadcastStats = emptyStats();
  private pendingBytes = 0;
  private lostRecords = 0;
  private readonly waiting: ((s: BroadcastStats) => void)[] = [];
  private closing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
    readonly config: BroadcastConfig,
    token: string | undefined,
  ) {
    this.tokenRequired = token !== undefined;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    this.url = `ws://${host}:${port}/`;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
  }

  /**
   * Reads the token, starts the broadcaster's thread and binds its port.
   * A ConfigError (CLI exit 2) when the token is missing or the address
   * cannot be bound.
   */
  static async start(config: BroadcastConfig): Promise<Broadcaster> {
    const token = loadToken(config);
    const data: WorkerData = { config, token };
    const worker = new Worker(WORKER_FILE, { workerData: data });
    const first = await new Promise<FromWorker>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`broadcaster thread exited (${code}) while starting`)));
    });
    worker.removeAllListeners('error').removeAllListeners('exit');
    if (first.kind !== 'listening') {
      await worker.terminate();
      const why = first.kind === 'listen-failed' ? first.message : `unexpected ${first.kind}`;
      throw new ConfigError(`wsPort: the WebSocket endpoint could not listen on ${config.host}:${config.port}: ${why}`, 'wsPort');
    }
    // A failure of the broadcaster's thread ends broadcasting, never the engine.
    worker.on('error', () => {});
    return new Broadcaster(worker, first.port, config, token);
  }

  /** BatchTap: a copy of `chunks` goes to the broadcaster's thread, or is dropped when it is too far behind. */
  offer(chunks: readonly Uint8Array[]): void {
    if (this.closed) return;
    try {
      let bytes = 0;
      for (const c of chunks) bytes += c.byteLength;
      if (bytes === 0) return;
      if (this.pendingBytes + bytes > MAX_PENDING_BYTES) {
        this.lostRecords += countRecords(chunks);
        return;
      }
      if (this.lostRecords > 0) {
        this.post({ kind: 'lost', records: this.lostRecords });
        this.lostRecords = 0;
      }
      const copy = new Uint8Array(bytes);
      let at = 0;
      for (const c of chunks) {
        copy.set(c, at);
        at += c.byteLength;
      }
      this.pendingBytes += bytes;
      this.worker.postMessage({ kind: 'batch', buffer: copy.buffer, at: performance.timeOrigin + performance.now() } satisfies ToWorker, [copy.buffer]);
    } catch {
      // Whatever goes wrong here is the broadcaster's problem: the engine's write has been made.
    }
  }

  /** The latest counts (at most about a second old). */
  stats(): BroadcastStats {
    return this.latest;
  }

  /** Counts as they are now, asked of the broadcaster's thread. */
  refresh(): Promise<BroadcastStats> {
    if (this.closed) return Promise.resolve(this.latest);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.post({ kind: 'stats' });
    });
  }

  /** Close every client (1001), release the port, end the thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => {
        this.worker.once('exit', () => resolve());
        this.waitForClosed = resolve;
      });
      this.post({ kind: 'close' });
      const deadline = setTimeout(() => void this.worker.terminate(), 5000);
      await closed;
      clearTimeout(deadline);
      this.closed = true;
      for (const resolve of this.waiting.splice(0)) resolve(this.latest);
      await this.worker.terminate();
      destroyLatencyHistogram(this.latency);
    })();
    return this.closing;
  }

  private waitForClosed: (() => void) | undefined;

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.kind) {
      case 'ack':
        this.pendingBytes -= m.bytes;
        return;
      case 'stats': {
        this.latest = m.stats;
        if (m.latency !== undefined && !this.closed) mergeShipped(this.latency, m.latency);
        for (const resolve of this.waiting.splice(0)) resolve(m.stats);
        return;
      }
      case 'closed':
        this.waitForClosed?.();
        return;
      default:
    }
  }
}

function countRecords(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) for (let i = c.indexOf(NEWLINE); i >= 0; i = c.indexOf(NEWLINE, i + 1)) n++;
  return n;
}
