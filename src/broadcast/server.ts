/*
 * The WebSocket endpoint: accepts (or refuses) connections, takes
 * subscriptions, and fans batches out to the clients. It runs on the
 * broadcaster's own thread (broadcast-worker.ts), so socket work never takes
 * the engine's event loop.
 */
import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Histogram } from 'hdr-histogram-js';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { createLatencyHistogram, encodeHistogram } from '../metrics/histograms.js';
import { originCheck, presentedToken, PROTOCOL, tokenCheck } from './access.js';
import { Client, type ClientHost } from './client.js';
import type { BroadcastConfig } from '../config/broadcast.js';
import { fanOut, ingest } from './fanout.js';
import { CLOSE_GOING_AWAY, CLOSE_POLICY, errorFrame, gapFrame, helloFrame, subscribedFrame } from './protocol.js';
import { ReplayBuffer } from './replay.js';
import { emptyStats, type BroadcastStats, type RefuseReason } from './stats.js';
import { isFiltered, parseQuery, parseSubscribe, SubscriptionError, type SubscribeRequest } from './subscription.js';

/** How long close() lets clients answer the closing handshake before cutting them off. */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * Sink batches arriving within this long of each other go out as one frame
 * per client, per connected client (at most MAX_COALESCE_MS): a follower's
 * sink writes a batch every millisecond or so, and a frame each, times
 * hundreds of clients, is hundreds of thousands of socket writes a second,
 * which the thread cannot keep up with. A few clients get each batch at once.
 * Per client, the wait is about what a round's write to one client costs
 * (one loopback socket write): the thread then writes about half of the time
 * and waits the other half, rounds come as often as that allows, and a
 * record waits about one round. Twice that wait held the thread to a third of
 * its time but added its own length to every record's latency (bench/ws-fanout.ts;
 * figures in bench/RESULTS.md).
 */
const COALESCE_MS_PER_CLIENT = 0.01;
const MAX_COALESCE_MS = 10;

export class BroadcastServer implements ClientHost {
  readonly stats: BroadcastStats = emptyStats();
  readonly replay: ReplayBuffer;
  /** Tells a resuming client whether its sequence numbers belong to this run. */
  readonly stream = randomBytes(6).toString('hex');
  private readonly clients = new Set<Client>();
  private readonly latency: Histogram = createLatencyHistogram();
  private readonly wss: WebSocketServer;
  private readonly originAllowed: (origin: string | undefined) => boolean;
  private readonly tokenAllowed: (presented: string | undefined) => boolean;
  private closing: Promise<void> | undefined;
  /** Batches waiting for the next fan-out; not yet numbered, so a client joining meanwhile sees a consistent head. */
  private pending: { batch: Uint8Array; at: number }[] = [];
  private fanOutTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly config: BroadcastConfig,
    token: string | undefined,
    private readonly http: Server,
  ) {
    this.replay = new ReplayBuffer(config.replayBytes);
    this.originAllowed = originCheck(config);
    this.tokenAllowed = tokenCheck(token);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxMessageBytes,
      // Clients receive; compressing every frame for hundreds of them costs more than it saves on loopback and LANs.
      perMessageDeflate: false,
      // A browser carrying its token as a subprotocol also offers ordertail.v1, which is the one answered.
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'Upgrade' });
      res.end('ordertail WebSocket endpoint: connect with a WebSocket client\n');
    });
  }

  /** Listens on config.host:config.port (0: any free port); rejects when it cannot. */
  static async listen(config: BroadcastConfig, token: string | undefined): Promise<BroadcastServer> {
    const http = createServer();
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen({ host: config.host, port: config.port }, () => {
        http.off('error', reject);
        resolve();
      });
    });
    return new BroadcastServer(config, token, http);
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  now(): number {
    return performance.timeOrigin + performance.now();
  }

  recordLatency(micros: number, count: number): void {
    this.latency.recordValueWithCount(Math.max(1, Math.round(micros)), count);
  }

  /** A sink batch (newline-terminated records) emitted at `at` (epoch ms). */
  ingest(batch: Uint8Array, at: number): void {
    if (this.closing) return;
    this.pending.push({ batch, at });
    if (this.fanOutTimer !== undefined) return;
    const delayMs = Math.min(MAX_COALESCE_MS, this.clients.size * COALESCE_MS_PER_CLIENT);
    if (delayMs < 1) this.flushPending();
    else this.fanOutTimer = setTimeout(() => this.flushPending(), delayMs);
  }

  /** Number the waiting batches' records, keep them for resumes, and send each client its share. */
  private flushPending(): void {
    clearTimeout(this.fanOutTimer);
    this.fanOutTimer = undefined;
    if (this.pending.length === 0) return;
    const batches = this.pending;
    this.pending = [];
    const records = batches.length === 1 ? ingest(batches[0]!.batch, batches[0]!.at, this.replay) : batches.flatMap((b) => ingest(b.batch, b.at, this.replay));
    this.stats.recordsIn += records.length;
    fanOut(records, this.clients);
  }

  /** Records that never reached this thread (it was behind): their numbers are skipped, and every client told. */
  lost(count: number): void {
    if (count <= 0) return;
    // The batches before the loss are numbered first.
    this.flushPending();
    const after = this.replay.head;
    this.replay.skip(count);
    this.stats.dropped.overload += count;
    for (const client of this.clients) client.notice(gapFrame(after, after + count + 1, count, 'lost'));
  }

  snapshot(): BroadcastStats {
    // Counts include every batch that has arrived.
    this.flushPending();
    const s = this.stats;
    let subscriptions = 0;
    for (const c of this.clients) if (isFiltered(c.subscription)) subscriptions++;
    return {
      ...s,
      clients: this.clients.size,
      subscriptions,
      dropped: { ...s.dropped },
      disconnects: { ...s.disconnects },
      refused: { ...s.refused },
      badMessages: { ...s.badMessages },
      resumes: { ...s.resumes },
      replay: { records: this.replay.size, bytes: this.replay.bytes, oldest: this.replay.oldest, head: this.replay.head },
    };
  }

  /** Fan-out latency recorded since the last call (compact form; see metrics/histograms.ts). */
  shipLatency(): string | undefined {
    if (this.latency.totalCount === 0) return undefined;
    const shipped = encodeHistogram(this.latency);
    this.latency.reset();
    return shipped;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that resets mid-handshake must not take the thread down.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/') return this.refuse(socket, 404, 'path', 'the stream is at /');
    if (!this.originAllowed(req.headers.origin)) return this.refuse(socket, 403, 'origin', `origin ${req.headers.origin ?? ''} is not allowed (--ws-allowed-origins)`);
    if (!this.tokenAllowed(presentedToken(req))) return this.refuse(socket, 401, 'token', 'a valid bearer token is required');
    if (this.closing) return this.refuse(socket, 503, 'capacity', 'shutting down');
    if (this.clients.size >= this.config.maxClients) return this.refuse(socket, 503, 'capacity', `at most ${this.config.maxClients} clients`);
    let request: SubscribeRequest;
    try {
      request = parseQuery(url.searchParams);
    } catch (err) {
      this.stats.badMessages.bad_subscription++;
      return this.refuse(socket, 400, 'bad_subscription', err instanceof Error ? err.message : String(err));
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, request, url.search !== ''));
  }

  private refuse(socket: Duplex, status: number, reason: RefuseReason, message: string): void {
    this.stats.refused[reason]++;
    const body = message + '\n';
    const extra = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    (socket as Socket).setTimeout?.(1000, () => socket.destroy());
  }

  private accept(ws: WebSocket, request: SubscribeRequest, fromQuery: boolean): void {
    const client = new Client(ws, this, request.subscription);
    this.clients.add(client);
    if (fromQuery) this.stats.subscribeRequests++;
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.stats.badMessages.too_large++;
        client.closeReason ??= 'too_large';
      } else {
        client.closeReason ??= 'error';
      }
    });
    ws.on('close', () => {
      this.clients.delete(client);
      this.stats.disconnects[client.closeReason ?? 'client']++;
    });
    client.notice(helloFrame(this.stream, this.replay.head, this.replay.oldest, request.subscription, this.config.slowPolicy));
    if (request.lastSeq !== undefined) client.resume(request.lastSeq);
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    // Being closed: what it still sends is not read.
    if (client.closeReason) return;
    if (!client.takeMessageToken()) {
      this.stats.badMessages.rate_limited++;
      if (++client.rateViolations > this.config.messagesPerSecond * 2) client.close(CLOSE_POLICY, 'rate_limit', 'too many messages');
      else client.notice(errorFrame('rate_limited', `at most ${this.config.messagesPerSecond} messages per second`));
      return;
    }
    if (isBinary) {
      this.stats.badMessages.binary++;
      client.notice(errorFrame('binary', 'send subscriptions as JSON text'));
      return;
    }
    let request: SubscribeRequest;
    try {
      request = parseSubscribe(rawText(data));
    } catch (err) {
      const e = err instanceof SubscriptionError ? err : new SubscriptionError(String(err), 'bad_subscription');
      this.stats.badMessages[e.reason]++;
      client.notice(errorFrame(e.reason, e.message));
      return;
    }
    client.subscription = request.subscription;
    this.stats.subscribeRequests++;
    client.notice(subscribedFrame(this.replay.head, request.subscription));
    if (request.lastSeq !== undefined) client.resume(request.lastSeq);
  }

  /** Stop accepting, close every client with 1001 (cut off after a grace), release the port. */
  close(): Promise<void> {
    // What arrived before the stop goes out before the closing handshake.
    if (!this.closing) this.flushPending();
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      const gone = [...this.clients].map((c) => new Promise<void>((resolve) => {
        if (c.ws.readyState === c.ws.CLOSED) return resolve();
        c.ws.once('close', () => resolve());
        c.close(CLOSE_GOING_AWAY, 'shutdown', 'engine stopping');
      }));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
      await Promise.race([Promise.all(gone), grace]);
      for (const c of this.clients) c.ws.terminate();
      this.wss.close();
      this.http.closeAllConnections();
      await closed;
      this.latency.destroy();
    })();
    return this.closing;
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
