/**
 * Only changed records are written; unchanged ones are counted as suppressed;
 * every N cycles a full snapshot; a symbol that disappears is forgotten (and
 * reported), one that comes back is written again.
 */
import { describe, expect, it } from 'vitest';
import { ChangeDetector } from '../dist/src/collector/change-detector.js';
import { collector, fastConfig, metric, mockExchange, until } from './fixtures/mock-exchange/harness.js';

const P = 'ordertail_collector_';

describe('ChangeDetector', () => {
  it('emits new and changed values, suppresses repeats, remembers since when values are unchanged', () => {
    const d = new ChangeDetector();
    d.begin();
    expect(d.observe('A', 'x', 1000, false)).toEqual({ emit: true, since: 1000 });
    d.begin();
    expect(d.observe('A', 'x', 2000, false)).toEqual({ emit: false, since: 1000 });
    expect(d.observe('A', 'x', 2000, true)).toEqual({ emit: true, since: 1000 }); // snapshot: same since
    d.begin();
    expect(d.observe('A', 'y', 3000, false)).toEqual({ emit: true, since: 3000 });
    d.begin();
    expect(d.observe('A', 'x', 4000, false)).toEqual({ emit: true, since: 4000 }); // A → B → A is a change
  });

  it('sweep forgets symbols missing from the latest answer', () => {
    const d = new ChangeDetector();
    d.begin();
    d.observe('A', 'x', 1, false);
    d.observe('B', 'x', 1, false);
    d.begin();
    d.observe('A', 'x', 2, false);
    expect(d.sweep()).toEqual(['B']);
    expect(d.size).toBe(1);
  });
});

describe('change detection against the mock (binanceusdm + bybit)', () => {
  it('writes only what changed; suppressed records are counted', async () => {
    const mock = await mockExchange();
    const { collector: c, records, registry } = collector(fastConfig([
      { id: 'binanceusdm', baseUrl: mock.url },
      { id: 'bybit', baseUrl: mock.url },
    ]));
    await c.pollOnce();
    expect(records).toHaveLength(2 * 2 * 3); // 2 exchanges × (ticker + funding) × 3 symbols
    records.length = 0;

    await c.pollOnce(); // nothing moved (binance restamps its data: ignored)
    expect(records).toHaveLength(0);
    expect(await metric(registry, `${P}records_suppressed_total`)).toBe(12);

    mock.move(5, 'ETH');
    const reports = await c.pollOnce();
    expect(records.map((r) => `${r.exchange} ${r.type} ${r.symbol}`).sort()).toEqual(['binanceusdm ticker ETH/USDT:USDT', 'bybit ticker ETH/USDT:USDT']);
    expect(reports.map((r) => [r.emitted.ticker, r.suppressed.ticker, r.emitted.funding, r.suppressed.funding])).toEqual([
      [1, 2, 0, 3],
      [1, 2, 0, 3],
    ]);
    records.length = 0;

    mock.setFundingRate(0.0005, 'SOL');
    await c.pollOnce();
    expect(records.map((r) => `${r.exchange} ${r.type} ${r.symbol} ${String(r.fundingRate)}`).sort()).toEqual([
      'binanceusdm funding SOL/USDT:USDT 0.0005',
      'bybit funding SOL/USDT:USDT 0.0005',
    ]);
    expect(await metric(registry, `${P}records_emitted_total`, { exchange: 'bybit' })).toBe(6 + 1 + 1);
  });

  it('writes a full snapshot every N cycles', async () => {
    const mock = await mockExchange();
    const { collector: c } = collector(fastConfig([{ id: 'bybit', baseUrl: mock.url }], { snapshotEvery: 3 }));
    const written: number[] = [];
    for (let i = 0; i < 7; i++) {
      const [r] = await c.pollOnce();
      written.push(r!.emitted.ticker + r!.emitted.funding);
      expect(r!.snapshot).toBe((i + 1) % 3 === 0);
    }
    expect(written).toEqual([6, 0, 6, 0, 0, 6, 0]);
  });

  it('a delisted symbol is reported and forgotten; relisted, it is written again', async () => {
    const mock = await mockExchange();
    const { collector: c, records, warnings, registry } = collector(fastConfig([{ id: 'binanceusdm', baseUrl: mock.url }], { marketsRefresh: '100ms' }));
    await c.pollOnce();
    records.length = 0;

    mock.delist('ETH');
    const [r] = await c.pollOnce();
    expect(r!.outcome).toBe('ok');
    expect(records).toHaveLength(0); // BTC and SOL unchanged
    expect(warnings.filter((w) => w.includes('ETH/USDT:USDT'))).toEqual([
      'binanceusdm: no funding for ETH/USDT:USDT any more (delisted or not reported)',
      'binanceusdm: no ticker for ETH/USDT:USDT any more (delisted or not reported)',
    ]);
    expect(await metric(registry, `${P}symbols_dropped_total`, { exchange: 'binanceusdm' })).toBe(2);

    // After the markets refresh the exchange no longer lists it: not polled any more.
    await new Promise((resolve) => setTimeout(resolve, 120));
    await c.pollOnce(); // starts a background markets refresh
    await until(() => c.stats().exchanges[0]!.symbols === 2);

    mock.list('ETH', 200.5);
    await new Promise((resolve) => setTimeout(resolve, 120));
    await c.pollOnce();
    await until(() => c.stats().exchanges[0]!.symbols === 3);
    records.length = 0;
    await c.pollOnce();
    expect(records.map((x) => `${x.type} ${x.symbol}`).sort()).toEqual(['funding ETH/USDT:USDT', 'ticker ETH/USDT:USDT']);
  });

  it('--symbols keeps only the requested symbols and warns about ones the exchange does not list', async () => {
    const mock = await mockExchange();
    const { collector: c, records, warnings } = collector(fastConfig([{ id: 'bybit', baseUrl: mock.url }], { symbols: ['BTC/USDT:USDT', 'DOGE/USDT:USDT'] }));
    await c.pollOnce();
    expect(new Set(records.map((r) => r.symbol))).toEqual(new Set(['BTC/USDT:USDT']));
    expect(warnings).toEqual(['bybit: not listed as a swap/future market: DOGE/USDT:USDT']);
  });
});
