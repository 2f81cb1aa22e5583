/**
 * Bad client messages: each gets an error frame and is counted; oversized
 * ones and floods close that client only (1009, 1008); nobody else, and
 * nothing upstream, notices.
 */
import { describe, expect, it } from 'vitest';
import type { Broadcaster } from '../dist/src/broadcast/broadcaster.js';
import { batch, broadcasterTestScope, handshakeStatus, type TestClient } from './helpers/ws-client.js';

let broadcaster: Broadcaster | undefined;
const scope = broadcasterTestScope();
const client = (query = ''): Promise<TestClient> => scope.connect(broadcaster!.url + query);

const BAD: Array<[message: string, code: string, says: RegExp]> = [
  ['{"type":"subscribe","symbols":', 'bad_json', /not JSON/],
  ['[1,2]', 'bad_subscription', /object/],
  ['{"type":"unsubscribe"}', 'bad_subscription', /type/],
  ['{"type":"subscribe","symbols":"BTC/USDT"}', 'bad_subscription', /symbols/],
  ['{"type":"subscribe","symbols":[]}', 'bad_subscription', /symbols/],
  ['{"type":"subscribe","types":[1]}', 'bad_subscription', /types/],
  ['{"type":"subscribe","fields":["id"],"colour":"red"}', 'bad_subscription', /colour/],
  ['{"type":"subscribe","lastSeq":-1}', 'bad_subscription', /lastSeq/],
  ['{"type":"subscribe","lastSeq":1.5}', 'bad_subscription', /lastSeq/],
];

describe('ws bad messages', () => {
  it('answers each bad message with an error frame, counts it, and keeps the connection and its filter', async () => {
    broadcaster = await scope.start({ messagesPerSecond: 100 });
    const c = await client('?symbols=BTC/USDT');
    for (const [message] of BAD) c.ws.send(message);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await c.until(() => c.ofType('error').length === BAD.length + 1);
    const errors = c.ofType('error');
    for (const [i, [, code, says]] of BAD.entries()) {
      expect(errors[i]).toMatchObject({ code });
      expect(String(errors[i]!.message)).toMatch(says);
    }
    expect(errors[BAD.length]).toMatchObject({ code: 'binary' });
    // Still connected, still filtered.
    broadcaster.offer([batch([{ id: 1, symbol: 'ETH/USDT' }, { id: 2, symbol: 'BTC/USDT' }])]);
    await c.until(() => c.records.length === 1);
    expect(c.records[0]!.record).toEqual({ id: 2, symbol: 'BTC/USDT' });
    const stats = await broadcaster.refresh();
    expect(stats.badMessages).toMatchObject({ bad_json: 1, bad_subscription: BAD.length - 1, binary: 1 });
    expect(stats.subscribeRequests).toBe(1);
    expect(c.closed).toBeUndefined();
  });

  it('a bad subscription in the URL is refused at the handshake (400)', async () => {
    broadcaster = await scope.start();
    expect(await handshakeStatus(broadcaster.url + '?lastSeq=abc')).toBe(400);
    expect(await handshakeStatus(broadcaster.url + '?symbols=')).toBe(400);
    expect((await broadcaster.refresh()).refused.bad_subscription).toBe(2);
  });

  it('an oversized message closes that client with 1009; a flood is answered rate_limited, then closed with 1008; others unaffected', async () => {
    broadcaster = await scope.start({ maxMessageBytes: 256, messagesPerSecond: 5 });
    const bystander = await client();
    const big = await client();
    big.ws.send(JSON.stringify({ type: 'subscribe', symbols: Array.from({ length: 40 }, (_, i) => `SYMBOL-${i}`) }));
    await big.until(() => big.closed !== undefined);
    expect(big.closed!.code).toBe(1009);

    const flood = await client();
    for (let i = 0; i < 40; i++) flood.ws.send('{"type":"subscribe"}');
    await flood.until(() => flood.closed !== undefined);
    expect(flood.closed!.code).toBe(1008);
    // A burst of twice the rate is taken, then refusals, then the close.
    expect(flood.ofType('subscribed').length).toBe(10);
    expect(flood.ofType('error').every((f) => f.code === 'rate_limited')).toBe(true);
    expect(flood.ofType('error').length).toBe(10);

    broadcaster.offer([batch([{ id: 'still here' }])]);
    await bystander.until(() => bystander.records.length === 1);
    expect(bystander.closed).toBeUndefined();
    // The server counts a disconnect when its side of the connection has closed, a moment after the client's.
    await expect.poll(async () => (await broadcaster!.refresh()).clients, { timeout: 5000 }).toBe(1);
    const stats = await broadcaster.refresh();
    expect(stats.badMessages.too_large).toBe(1);
    expect(stats.badMessages.rate_limited).toBe(11);
    expect(stats.disconnects).toMatchObject({ too_large: 1, rate_limit: 1 });
  });
});
