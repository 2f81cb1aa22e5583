/**
 * What a collector record looks like, and its dedup key `id`: the same
 * exchange state gives the same id whoever collects it and whenever
 * (collectedAt is not part of it); a new state, even a return to old values,
 * gives a new id. Checked through the real engine with its default key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnce, workdir } from './helpers/workdir.js';
import { collector, fastConfig, mockExchange, sleep, type CollectedRecord } from './fixtures/mock-exchange/harness.js';

const key = (r: CollectedRecord): string => `${r.exchange} ${r.type} ${r.symbol}`;

describe('collector records', () => {
  it("carry ccxt's unified fields plus type, exchange, symbol, collectedAt and id; never the raw payload", async () => {
    const mock = await mockExchange();
    const { collector: c, records } = collector(fastConfig([{ id: 'binanceusdm', baseUrl: mock.url }, { id: 'bybit', name: 'bybit-main', baseUrl: mock.url }]));
    const before = Date.now();
    await c.pollOnce();
    const byKey = new Map(records.map((r) => [key(r), r]));
    const ticker = byKey.get('bybit-main ticker BTC/USDT:USDT')!;
    expect(Object.keys(ticker).slice(0, 5)).toEqual(['type', 'exchange', 'symbol', 'collectedAt', 'id']);
    expect(ticker).toMatchObject({ type: 'ticker', exchange: 'bybit-main', symbol: 'BTC/USDT:USDT', last: 100.5, bid: 100.4, ask: 100.6, markPrice: 100.5 });
    expect(ticker.collectedAt).toBeGreaterThanOrEqual(before);
    expect(ticker).not.toHaveProperty('info');
    const funding = byKey.get('binanceusdm funding ETH/USDT:USDT')!;
    expect(funding).toMatchObject({ type: 'funding', fundingRate: 0.0001, markPrice: 200.5, interestRate: 0.0001 });
    expect(typeof funding.fundingTimestamp).toBe('number');
    expect(funding.timestamp).toBeGreaterThan(0);
    expect(funding.id).toBe(`binanceusdm|funding|ETH/USDT:USDT|${funding.timestamp}|${funding.id.split('|')[4]}`);
  });

  it('same exchange state → same id from a second collector (HA pair or restart); new state → new id', async () => {
    const mock = await mockExchange();
    const config = fastConfig([{ id: 'binanceusdm', baseUrl: mock.url, funding: false }]);
    const a = collector(config);
    const b = collector(config);
    await a.collector.pollOnce();
    await sleep(5);
    await b.collector.pollOnce();
    const idsA = a.records.map((r) => r.id).sort();
    expect(b.records.map((r) => r.id).sort()).toEqual(idsA);
    expect(b.records[0]!.collectedAt).not.toBe(a.records[0]!.collectedAt);

    await sleep(5);
    mock.move(1, 'BTC');
    await a.collector.pollOnce();
    const moved = a.records.at(-1)!;
    expect(moved.symbol).toBe('BTC/USDT:USDT');
    expect(idsA).not.toContain(moved.id);
  });

  it('undated data (bybit tickers): a snapshot keeps the original id; A → B → A gets a fresh id', async () => {
    const mock = await mockExchange();
    const { collector: c, records } = collector(fastConfig([{ id: 'bybit', baseUrl: mock.url, funding: false }], { snapshotEvery: 2, symbols: ['BTC/USDT:USDT'] }));
    await c.pollOnce(); // A
    await sleep(2);
    await c.pollOnce(); // snapshot of A
    expect(records).toHaveLength(2);
    expect(records[0]!.timestamp).toBeUndefined();
    expect(records[1]!.id).toBe(records[0]!.id);
    mock.move(1);
    await sleep(2);
    await c.pollOnce(); // B
    mock.move(-1);
    await sleep(2);
    await c.pollOnce(); // A again: a new state
    expect(records).toHaveLength(4);
    expect(records[3]!.last).toBe(records[0]!.last);
    expect(new Set(records.map((r) => r.id)).size).toBe(3);
  });

  it('through the engine (dedup key id): two collectors of the same state give one copy of each record', async () => {
    const mock = await mockExchange();
    const config = fastConfig([{ id: 'binanceusdm', baseUrl: mock.url, funding: false }, { id: 'bybit', baseUrl: mock.url }], { snapshotEvery: 2 });
    const a = collector(config);
    const b = collector(config);
    await a.collector.pollOnce();
    await b.collector.pollOnce();
    await a.collector.pollOnce();
    await a.collector.pollOnce(); // snapshot
    mock.move(2, 'SOL');
    await b.collector.pollOnce(); // snapshot + SOL moved
    const dir = workdir();
    const lines = (rs: CollectedRecord[]): string => rs.map((r) => JSON.stringify(r) + '\n').join('');
    writeFileSync(join(dir, 'collector-a.ndjson'), lines(a.records));
    writeFileSync(join(dir, 'collector-b.ndjson'), lines(b.records));
    const out = await runOnce(dir, { input: join(dir, 'collector-*.ndjson'), dedupKey: 'id' });
    const ids = out.lines.map((l) => (JSON.parse(l) as CollectedRecord).id);
    expect(new Set(ids).size).toBe(ids.length);
    // Each distinct state exactly once; b's copies of states a already wrote (binance tickers,
    // which are dated by the exchange) are the duplicates.
    const distinct = new Set([...a.records, ...b.records].map((r) => r.id));
    expect(ids.length).toBe(distinct.size);
    expect(out.stats.duplicates).toBe(a.records.length + b.records.length - distinct.size);
    expect(out.stats.duplicates).toBeGreaterThan(0);
  });
});
