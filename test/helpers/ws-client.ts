/**
 * Real `ws` clients for the broadcaster's tests, and a broadcaster fed
 * directly with sink-like batches (what the engine's tee hands it).
 */
import { afterEach } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { Broadcaster } from '../../dist/src/broadcast/broadcaster.js';
import type { BroadcastConfig } from '../../dist/src/config/broadcast.js';

export interface Frame {
  type: string;
  [key: string]: unknown;
}

export interface ReceivedRecord {
  seq: number;
  at: number;
  record: Record<string, unknown>;
}

export function config(overrides: Partial<BroadcastConfig> = {}): BroadcastConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    token: undefined,
    allowedOrigins: undefined,
    maxClients: 1000,
    maxMessageBytes: 4096,
    messagesPerSecond: 10,
    queueBytes: 1 << 20,
    queueMessages: 10_000,
    slowPolicy: 'drop-oldest',
    replayBytes: 16 << 20,
    ...overrides,
  };
}

/** A client that records every frame it gets, and how its connection ended. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly records: ReceivedRecord[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as Frame;
      this.frames.push(frame);
      if (frame.type === 'records') this.records.push(...(frame.records as ReceivedRecord[]));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Resolves once `predicate` holds (checked on every frame), rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames.slice(-3)).slice(0, 600)}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens a client; resolves with it once its hello frame is in (the subscription is then in force). */
export async function connect(url: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<TestClient> {
  const { protocols, ...rest } = options;
  const ws = new WebSocket(url, protocols ?? [], rest);
  const client = new TestClient(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
    ws.once('open', () => resolve());
  });
  await client.until(() => client.frames.some((f) => f.type === 'hello'), 5000, 'hello');
  return client;
}

/** The status a refused handshake got (or 101 when it was accepted). */
export function handshakeStatus(url: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<number> {
  const { protocols, ...rest } = options;
  const ws = new WebSocket(url, protocols ?? [], rest);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (ws.readyState === ws.CLOSED) reject(err);
    });
  });
}

/** Records as the engine's sink gets them: one newline-terminated batch. */
export function batch(records: readonly object[]): Uint8Array {
  return Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''));
}

export async function startBroadcaster(overrides: Partial<BroadcastConfig> = {}): Promise<Broadcaster> {
  return Broadcaster.start(config(overrides));
}

/**
 * A test file's broadcasters and the clients connected to them, all closed
 * after each test. Call once at the top of the file (it registers the afterEach).
 */
export function broadcasterTestScope(): { start(overrides?: Partial<BroadcastConfig>): Promise<Broadcaster>; connect(url: string): Promise<TestClient> } {
  const broadcasters: Broadcaster[] = [];
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const b of broadcasters.splice(0)) await b.close();
  });
  return {
    async start(overrides = {}) {
      const b = await startBroadcaster(overrides);
      broadcasters.push(b);
      return b;
    },
    async connect(url) {
      const c = await connect(url);
      clients.push(c);
      return c;
    },
  };
}
