import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, VENUES, type MockInstrument, type VenueId } from './venues.js';

/**
 * A local stand-in for exchange REST APIs: serves binance USD-M and bybit v5 on
 * their real paths (one server can host both; the paths do not collide), with
 * latency and faults injected per request. Loopback only, random port.
 *
 *   const mock = await MockExchange.start({ latencyMs: 50 });
 *   config.exchanges = [{ id: 'bybit', baseUrl: mock.url }];
 *   mock.inject({ fault: { kind: 'status', status: 503 }, times: 3 });
 */

export type Fault =
  /** The venue's own error body with this HTTP status (429, 418, 5xx, …). */
  | { kind: 'status'; status: number }
  /** HTTP 200 with a JSON body cut short. */
  | { kind: 'malformed' }
  /** Answer, but this much later than the base latency. */
  | { kind: 'delay'; ms: number }
  /** Never answer: the client's timeout (or close()) ends the request. */
  | { kind: 'hang' }
  /** Send the headers and half the body, then nothing: only a client-side deadline ends it. */
  | { kind: 'stall' };

export interface FaultRule {
  fault: Fault;
  /** Requests this rule applies to before it expires; default unlimited. */
  times?: number;
  venue?: VenueId;
  /** Only requests whose path starts with this. */
  path?: string;
}

export interface MockRequest {
  /** performance.now() when the request arrived. */
  at: number;
  venue: VenueId | undefined;
  path: string;
  status: number | 'hang';
  fault: Fault['kind'] | undefined;
}

export interface MockOptions {
  /** Base latency of every response, ms. Default 0. */
  latencyMs?: number;
  /** Base assets listed (quote USDT). Default BTC, ETH, SOL. */
  bases?: readonly string[];
  /** Move every price one step before each ticker request (for load tests). Default false. */
  moveEachRequest?: boolean;
}

/** Keep the request log bounded however long a test or bench runs. */
const MAX_LOG = 100_000;

export class MockExchange {
  latencyMs: number;
  moveEachRequest: boolean;
  readonly instruments: MockInstrument[];
  readonly requests: MockRequest[] = [];
  /** Requests being answered right now, and the most there ever were at once. */
  inflight = 0;
  maxInflight = 0;
  private readonly rules: FaultRule[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: MockOptions,
  ) {
    this.latencyMs = options.latencyMs ?? 0;
    this.moveEachRequest = options.moveEachRequest ?? false;
    const nextFunding = Math.ceil(Date.now() / 28_800_000) * 28_800_000;
    this.instruments = (options.bases ?? ['BTC', 'ETH', 'SOL']).map((base, i) => ({
      base,
      quote: 'USDT',
      last: 100 * (i + 1) + 0.5,
      fundingRate: 0.0001,
      nextFundingTime: nextFunding,
      updatedAt: Date.now(),
    }));
  }

  static async start(options: MockOptions = {}): Promise<MockExchange> {
    let mock: MockExchange | undefined;
    const server = createServer({ keepAlive: true }, (req, res) => mock!.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    mock = new MockExchange(server, `http://127.0.0.1:${port}`, options);
    return mock;
  }

  /** Add a fault rule; the first matching live rule decides a request's fate. */
  inject(rule: FaultRule): void {
    this.rules.push({ ...rule });
  }

  /** Remove every fault rule: the next requests are healthy. */
  heal(): void {
    this.rules.length = 0;
  }

  /** Stop listing a base asset (a delisting): gone from markets, tickers and funding. */
  delist(base: string): void {
    const at = this.instruments.findIndex((i) => i.base === base);
    if (at >= 0) this.instruments.splice(at, 1);
  }

  /** List a base asset (again), at `price`. */
  list(base: string, price = 100): void {
    if (this.instruments.some((i) => i.base === base)) return;
    const now = Date.now();
    this.instruments.push({ base, quote: 'USDT', last: price, fundingRate: 0.0001, nextFundingTime: Math.ceil(now / 28_800_000) * 28_800_000, updatedAt: now });
  }

  /** Move prices by `step` (all instruments, or one base). */
  move(step = 0.1, base?: string): void {
    const now = Date.now();
    for (const i of this.instruments) {
      if (base !== undefined && i.base !== base) continue;
      i.last = Math.round((i.last + step) * 100) / 100;
      i.updatedAt = now;
    }
  }

  /** Change funding rates (all instruments, or one base). */
  setFundingRate(rate: number, base?: string): void {
    for (const i of this.instruments) if (base === undefined || i.base === base) i.fundingRate = rate;
  }

  /** Requests whose path starts with `prefix` (all when omitted). */
  count(prefix = ''): number {
    let n = 0;
    for (const r of this.requests) if (r.path.startsWith(prefix)) n++;
    return n;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private matchRule(venue: VenueId | undefined, path: string): Fault | undefined {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      if (rule.venue !== undefined && rule.venue !== venue) continue;
      if (rule.path !== undefined && !path.startsWith(rule.path)) continue;
      if (rule.times !== undefined) {
        rule.times--;
        if (rule.times <= 0) this.rules.splice(i, 1);
      }
      return rule.fault;
    }
    return undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname;
    const venue: VenueId | undefined = path.startsWith('/fapi/') ? 'binanceusdm' : path.startsWith('/v5/') ? 'bybit' : undefined;
    const fault = this.matchRule(venue, path);
    const entry: MockRequest = { at: performance.now(), venue, path, status: 200, fault: fault?.kind };
    if (this.requests.length < MAX_LOG) this.requests.push(entry);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    res.on('close', () => this.inflight--);
    if (fault?.kind === 'hang' || fault?.kind === 'stall') {
      entry.status = 'hang';
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      if (fault.kind === 'stall' && venue !== undefined) {
        const text = JSON.stringify(VENUES[venue](path, url.searchParams, this.instruments, Date.now()) ?? {});
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, text.length >> 1));
      }
      return;
    }
    const delay = this.latencyMs + (fault?.kind === 'delay' ? fault.ms : 0);
    const respond = (): void => {
      if (res.destroyed) return;
      const now = Date.now();
      if (venue === undefined) return this.send(res, entry, 404, '{"error":"no such path"}');
      if (fault?.kind === 'status') return this.send(res, entry, fault.status, errorBody(venue, fault.status, now));
      if (this.moveEachRequest && (path === '/fapi/v1/ticker/24hr' || path === '/v5/market/tickers')) this.move();
      const body = VENUES[venue](path, url.searchParams, this.instruments, now);
      if (body === undefined) return this.send(res, entry, 404, errorBody(venue, 404, now));
      const text = JSON.stringify(body);
      this.send(res, entry, 200, fault?.kind === 'malformed' ? text.slice(0, Math.max(1, text.length >> 1)) : text);
    };
    if (delay <= 0) return respond();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      respond();
    }, delay);
    this.timers.add(timer);
  }

  private send(res: ServerResponse, entry: MockRequest, status: number, body: string): void {
    entry.status = status;
    const type = body.startsWith('<') ? 'text/html' : 'application/json';
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
