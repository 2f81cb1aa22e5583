/**
 * Five hundred real WebSocket clients on loopback with mixed filters, through
 * the engine, while a writer appends 5,000 records/s to the followed file:
 * every client receives exactly the records its filter selects, in emit
 * order, and the sink gets every record. (Latency at this load is the
 * benchmark's business: bench/ws-fanout.ts.)
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Engine } from '../dist/src/index.js';
import { readLines, workdir } from './helpers/workdir.js';

const CLIENTS = 500;
const RATE = 5000;
const SECONDS = 2;
const APPEND_EVERY_MS = 10;
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT'];
const TYPES = ['trade', 'ticker', 'order'];

const symbolOf = (i: number): string => SYMBOLS[i % SYMBOLS.length]!;
const typeOf = (i: number): string => TYPES[Math.floor(i / SYMBOLS.length) % TYPES.length]!;
const line = (i: number): string =>
  JSON.stringify({ id: i, timestamp: 1_760_000_000_000 + i, type: typeOf(i), symbol: symbolOf(i), price: 64_000 + (i % 1000) / 4, qty: 0.25, note: `désk ${i % 17}` });

interface Filter {
  readonly query: string;
  readonly selects: (i: number) => boolean;
  /** The fields a client of this filter gets, in the record's order. */
  readonly fields?: readonly string[];
}

const FILTERS: readonly Filter[] = [
  { query: '', selects: () => true },
  { query: '?symbols=BTC/USDT,ETH/USDT', selects: (i) => symbolOf(i) === 'BTC/USDT' || symbolOf(i) === 'ETH/USDT' },
  { query: '?types=trade', selects: (i) => typeOf(i) === 'trade' },
  { query: '?symbols=SOL/USDT&fields=id,price', selects: (i) => symbolOf(i) === 'SOL/USDT', fields: ['id', 'price'] },
];

/**
 * Checks each record as it arrives against the next one its filter selects,
 * without keeping them (500 clients × thousands of records).
 */
class CheckingClient {
  next = 0;
  received = 0;
  wrong: string | undefined;
  private lastSeq = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly filter: Filter,
  ) {
    ws.on('message', (data: Buffer) => this.onFrame(data.toString('utf8')));
    ws.on('error', () => {});
  }

  private onFrame(text: string): void {
    const frame = JSON.parse(text) as { type: string; records?: { seq: number; record: Record<string, unknown> }[] };
    if (frame.type !== 'records') {
      if (frame.type !== 'hello') this.wrong ??= `unexpected frame ${text.slice(0, 200)}`;
      return;
    }
    for (const { seq, record } of frame.records!) {
      while (!this.filter.selects(this.next)) this.next++;
      const want = JSON.parse(line(this.next)) as Record<string, unknown>;
      const expected = this.filter.fields ? Object.fromEntries(this.filter.fields.map((f) => [f, want[f]])) : want;
      if (this.wrong === undefined && (JSON.stringify(record) !== JSON.stringify(expected) || seq <= this.lastSeq)) {
        this.wrong = `record ${this.received}: got ${JSON.stringify(record)} (seq ${seq}), wanted ${JSON.stringify(expected)} (after seq ${this.lastSeq})`;
      }
      this.lastSeq = seq;
      this.next++;
      this.received++;
    }
  }
}

async function connect(url: string, filter: Filter): Promise<CheckingClient> {
  const ws = new WebSocket(url + filter.query);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return new CheckingClient(ws, filter);
}

describe('ws: many clients', () => {
  it(`${CLIENTS} clients with mixed filters at ${RATE} records/s: each gets exactly its filter's records, in emit order`, async () => {
    const dir = workdir();
    const input = join(dir, 'live.ndjson');
    const out = join(dir, 'out.ndjson');
    writeFileSync(input, '');
    const engine = new Engine({ input, sink: `file:${out}`, wsPort: 0, workers: 1 });
    await engine.start();
    const clients: CheckingClient[] = [];
    try {
      for (let i = 0; i < CLIENTS; i++) clients.push(await connect(engine.wsUrl!, FILTERS[i % FILTERS.length]!));
      await expect.poll(async () => (await engine.wsStats())!.clients, { timeout: 10_000 }).toBe(CLIENTS);
      const total = RATE * SECONDS;
      const perAppend = (RATE * APPEND_EVERY_MS) / 1000;
      for (let i = 0; i < total; i += perAppend) {
        appendFileSync(input, Array.from({ length: perAppend }, (_, k) => line(i + k)).join('\n') + '\n');
        await sleep(APPEND_EVERY_MS);
      }
      const want = FILTERS.map((f) => {
        let n = 0;
        for (let i = 0; i < total; i++) if (f.selects(i)) n++;
        return n;
      });
      await expect.poll(() => readLines(out).length, { timeout: 30_000 }).toBe(total);
      await expect
        .poll(() => clients.filter((c, i) => c.received < want[i % FILTERS.length]!).length, { timeout: 60_000, interval: 200 })
        .toBe(0);
      expect(clients.map((c) => c.wrong).filter((w) => w !== undefined)).toEqual([]);
      expect(clients.map((c, i) => c.received - want[i % FILTERS.length]!).filter((d) => d !== 0)).toEqual([]);
      const stats = (await engine.wsStats())!;
      expect(stats.dropped).toMatchObject({ 'drop-oldest': 0, disconnect: 0 });
    } finally {
      for (const c of clients) c.ws.terminate();
      await engine.stop();
    }
  }, 120_000);
});
