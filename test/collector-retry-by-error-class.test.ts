/**
 * Real ccxt against the local mock: which failures are retried (ccxt's
 * NetworkError family) and which are not (everything else), counted per class.
 */
import { describe, expect, it } from 'vitest';
import { collector, fastConfig, metric, mockExchange } from './fixtures/mock-exchange/harness.js';

const P = 'ordertail_collector_';

/**
 * The mock's answers, with client timeouts far above any answer's time: these
 * tests are about error classes, and on a loaded machine a 300 ms timeout
 * turned an attempt into a RequestTimeout of its own, adding or hiding a retry.
 */
const slowSafe = (exchanges: unknown[]): ReturnType<typeof fastConfig> => fastConfig(exchanges, { timeout: { initial: '10s', min: '5s', max: '10s' } });

describe('retries follow the ccxt error class', () => {
  it('binance HTTP 429 → DDoSProtection, retried until it passes', async () => {
    const mock = await mockExchange();
    const { collector: c, records, registry } = collector(slowSafe([{ id: 'binanceusdm', baseUrl: mock.url }]));
    mock.inject({ fault: { kind: 'status', status: 429 }, times: 2, path: '/fapi/v1/ticker/24hr' });
    const [report] = await c.pollOnce();
    expect(report!.outcome).toBe('ok');
    expect(mock.count('/fapi/v1/ticker/24hr')).toBe(3);
    expect(await metric(registry, `${P}retries_total`, { class: 'DDoSProtection' })).toBe(2);
    expect(await metric(registry, `${P}errors_total`, { operation: 'ticker', class: 'DDoSProtection' })).toBe(2);
    expect(records.filter((r) => r.type === 'ticker')).toHaveLength(3);
  });

  it('binance HTTP 418 (IP ban) → DDoSProtection; the retries run out and the cycle fails that stream only', async () => {
    const mock = await mockExchange();
    const { collector: c, records, registry } = collector(slowSafe([{ id: 'binanceusdm', baseUrl: mock.url }]));
    mock.inject({ fault: { kind: 'status', status: 418 }, path: '/fapi/v1/ticker/24hr' });
    const [report] = await c.pollOnce();
    expect(report!.outcome).toBe('partial');
    expect(report!.failures).toEqual([expect.objectContaining({ operation: 'ticker', errorClass: 'DDoSProtection', kind: 'temporary', attempts: 3 })]);
    expect(mock.count('/fapi/v1/ticker/24hr')).toBe(3);
    expect(await metric(registry, `${P}retries_total`, { class: 'DDoSProtection' })).toBe(2);
    // Funding came from another endpoint and was written anyway.
    expect(records.filter((r) => r.type === 'funding')).toHaveLength(3);
  });

  it('bybit rate limit (retCode 10006) → RateLimitExceeded, retried', async () => {
    const mock = await mockExchange();
    const { collector: c, registry } = collector(slowSafe([{ id: 'bybit', baseUrl: mock.url, funding: false }]));
    await c.pollOnce();
    mock.inject({ fault: { kind: 'status', status: 429 }, times: 1, path: '/v5/market/tickers' });
    const [report] = await c.pollOnce();
    expect(report!.outcome).toBe('ok');
    expect(await metric(registry, `${P}retries_total`, { exchange: 'bybit', class: 'RateLimitExceeded' })).toBe(1);
  });

  it('bybit 503 → ExchangeNotAvailable and 504 → RequestTimeout, both retried', async () => {
    const mock = await mockExchange();
    const { collector: c, registry } = collector(slowSafe([{ id: 'bybit', baseUrl: mock.url, funding: false }]));
    await c.pollOnce();
    mock.inject({ fault: { kind: 'status', status: 503 }, times: 1, path: '/v5/market/tickers' });
    mock.inject({ fault: { kind: 'status', status: 504 }, times: 1, path: '/v5/market/tickers' });
    const [report] = await c.pollOnce();
    expect(report!.outcome).toBe('ok');
    expect(await metric(registry, `${P}retries_total`, { class: 'ExchangeNotAvailable' })).toBe(1);
    expect(await metric(registry, `${P}retries_total`, { class: 'RequestTimeout' })).toBe(1);
  });

  it('a bad request (bybit retCode 10001 → BadRequest, an ExchangeError) is not retried', async () => {
    const mock = await mockExchange();
    const { collector: c, registry } = collector(slowSafe([{ id: 'bybit', baseUrl: mock.url, funding: false }]));
    await c.pollOnce();
    const before = mock.count('/v5/market/tickers');
    mock.inject({ fault: { kind: 'status', status: 400 }, path: '/v5/market/tickers' });
    const [report] = await c.pollOnce();
    expect(report!.failures).toEqual([expect.objectContaining({ errorClass: 'BadRequest', kind: 'permanent', attempts: 1 })]);
    expect(mock.count('/v5/market/tickers') - before).toBe(1);
    expect(await metric(registry, `${P}retries_total`)).toBe(0);
  });

  it('binance 500 (code -1001 → OperationFailed, not a NetworkError) is not retried', async () => {
    const mock = await mockExchange();
    const { collector: c } = collector(slowSafe([{ id: 'binanceusdm', baseUrl: mock.url, funding: false }]));
    await c.pollOnce();
    const before = mock.count('/fapi/v1/ticker/24hr');
    mock.inject({ fault: { kind: 'status', status: 500 }, path: '/fapi/v1/ticker/24hr' });
    const [report] = await c.pollOnce();
    expect(report!.failures).toEqual([expect.objectContaining({ errorClass: 'OperationFailed', kind: 'permanent', attempts: 1 })]);
    expect(mock.count('/fapi/v1/ticker/24hr') - before).toBe(1);
  });

  it('a malformed JSON body is BadResponse (not "no tickers"), not retried, and no symbol is dropped', async () => {
    for (const [id, path] of [
      ['bybit', '/v5/market/tickers'],
      ['binanceusdm', '/fapi/v1/ticker/24hr'],
    ] as const) {
      const mock = await mockExchange();
      const { collector: c, warnings, registry } = collector(slowSafe([{ id, baseUrl: mock.url, funding: false }]));
      await c.pollOnce();
      mock.inject({ fault: { kind: 'malformed' }, times: 1, path });
      const [report] = await c.pollOnce();
      expect(report!.failures, id).toEqual([expect.objectContaining({ errorClass: 'BadResponse', kind: 'permanent', attempts: 1 })]);
      expect(await metric(registry, `${P}symbols_dropped_total`)).toBe(0);
      expect(warnings.filter((w) => w.includes('any more'))).toEqual([]);
      expect((await c.pollOnce())[0]!.outcome).toBe('ok');
    }
  });
});
