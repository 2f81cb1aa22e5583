/**
 * Subscription filters: symbols, record types and kept fields, in the URL or
 * a subscribe message; without one, everything. Each client gets exactly the
 * records its filter selects, in emit order, values as written.
 */
import { describe, expect, it } from 'vitest';
import type { Broadcaster } from '../dist/src/broadcast/broadcaster.js';
import { batch, broadcasterTestScope, type TestClient } from './helpers/ws-client.js';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
const TYPES = ['trade', 'ticker', 'funding'];

/** Records cycling through symbols and types; a price written with a trailing zero and a 20-digit id, which a parse would change. */
function records(n: number, from = 0): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { id: `r-${i}`, type: TYPES[i % 3], symbol: SYMBOLS[Math.floor(i / 3) % 3], price: 100 + i, amount: i / 8, note: `n${i}` };
  });
}

let broadcaster: Broadcaster | undefined;
const scope = broadcasterTestScope();
const client = (query = ''): Promise<TestClient> => scope.connect(broadcaster!.url + query);

describe('ws filters', () => {
  it('without a filter everything; with one exactly the selected records, in emit order', async () => {
    broadcaster = await scope.start();
    const all = await client();
    const btc = await client('?symbols=BTC/USDT');
    const trades = await client('?types=trade');
    const both = await client('?symbols=ETH/USDT,SOL/USDT&types=ticker,funding');
    const sent = records(300);
    for (let i = 0; i < sent.length; i += 50) broadcaster.offer([batch(sent.slice(i, i + 50))]);
    const want = {
      all: sent,
      btc: sent.filter((r) => r.symbol === 'BTC/USDT'),
      trades: sent.filter((r) => r.type === 'trade'),
      both: sent.filter((r) => r.symbol !== 'BTC/USDT' && r.type !== 'trade'),
    };
    for (const [name, c] of Object.entries({ all, btc, trades, both })) {
      const expected = want[name as keyof typeof want];
      await c.until(() => c.records.length >= expected.length, 10_000, `${name}: ${expected.length} records`);
      expect(c.records.map((r) => r.record), name).toEqual(expected);
      const seqs = c.records.map((r) => r.seq);
      expect(seqs, `${name}: ascending`).toEqual([...seqs].sort((a, b) => a - b));
    }
    // Sequence numbers count every record, whoever received it.
    expect(all.records.map((r) => r.seq)).toEqual(sent.map((_, i) => i + 1));
    expect(btc.records.map((r) => r.seq)).toEqual(sent.flatMap((r, i) => (r.symbol === 'BTC/USDT' ? [i + 1] : [])));
  });

  it('keeps only the subscribed fields, with their original text', async () => {
    broadcaster = await scope.start();
    const c = await client('?fields=id,price,missing');
    // Written by hand: values a JSON round trip would rewrite.
    const text = '{"id":"12345678901234567890","price":1.50,"nested":{"price":2},"symbol":"BTC/USDT","big":123456789012345678901234567890}\n';
    broadcaster.offer([Buffer.from(text)]);
    await c.until(() => c.records.length === 1);
    const frame = c.frames.find((f) => f.type === 'records')!;
    // Check the raw element: the projected record keeps 1.50 as written.
    expect(JSON.stringify(frame)).toContain('"record":{"id":"12345678901234567890","price":1.5}');
    const raw = await new Promise<string>((resolve) => {
      c.ws.once('message', (d: Buffer) => resolve(d.toString()));
      broadcaster!.offer([Buffer.from(text)]);
    });
    expect(raw).toContain('"record":{"id":"12345678901234567890","price":1.50}');
  });

  it('a subscribe message replaces the filter from then on and is acknowledged', async () => {
    broadcaster = await scope.start();
    const c = await client();
    broadcaster.offer([batch(records(9))]);
    await c.until(() => c.records.length === 9);
    c.ws.send(JSON.stringify({ type: 'subscribe', symbols: ['SOL/USDT'], fields: ['id', 'symbol'] }));
    await c.until(() => c.ofType('subscribed').length === 1);
    expect(c.ofType('subscribed')[0]).toMatchObject({ filter: { symbols: ['SOL/USDT'], types: null, fields: ['id', 'symbol'] }, seq: 9 });
    const more = records(18, 9);
    broadcaster.offer([batch(more)]);
    const sol = more.filter((r) => r.symbol === 'SOL/USDT').map((r) => ({ id: r.id, symbol: r.symbol }));
    await c.until(() => c.records.length === 9 + sol.length);
    expect(c.records.slice(9).map((r) => r.record)).toEqual(sol);
    const stats = await broadcaster.refresh();
    expect(stats.subscriptions).toBe(1);
    expect(stats.subscribeRequests).toBe(1);
  });

  it('records without the filtered field match no symbol or type filter; unfiltered clients get them', async () => {
    broadcaster = await scope.start();
    const filtered = await client('?symbols=BTC/USDT');
    const all = await client();
    broadcaster.offer([batch([{ id: 'a' }, { id: 'b', symbol: 7 }, { id: 'c', symbol: 'BTC/USDT' }])]);
    await all.until(() => all.records.length === 3);
    await filtered.until(() => filtered.records.length === 1);
    expect(filtered.records[0]!.record).toEqual({ id: 'c', symbol: 'BTC/USDT' });
  });
});
