/**
 * Circuit breaker: closed → open after K failed operations → half-open probe
 * after the cool-down → closed when the exchange is back (or open again).
 */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerState } from '../dist/src/collector/breaker.js';
import type { BreakerChange } from '../dist/src/collector/index.js';
import { collector, fastConfig, metric, mockExchange, sleep } from './fixtures/mock-exchange/harness.js';

describe('CircuitBreaker', () => {
  it('opens after K consecutive failures, probes once after the cool-down, closes on success', () => {
    let now = 0;
    const seen: string[] = [];
    const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now }, (from, to) => seen.push(`${from}→${to}`));
    b.onFailure();
    b.onSuccess(); // a success resets the count: failures must be consecutive
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    now = 999;
    expect(b.tryAcquire()).toBe(false);
    expect(b.retryInMs()).toBe(1);
    now = 1000;
    expect(b.tryAcquire()).toBe(true); // the probe
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(false); // one probe at a time
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(seen).toEqual(['closed→open', 'open→half-open', 'half-open→closed']);
  });

  it('a failed probe re-opens for a full cool-down', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 100, now: () => now });
    b.onFailure();
    now = 100;
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.state).toBe('open');
    now = 150;
    expect(b.tryAcquire()).toBe(false);
    now = 200;
    expect(b.tryAcquire()).toBe(true);
  });
});

describe('breaker against a 5xx outage and recovery (real ccxt, mock bybit)', () => {
  it('opens during the outage, stops sending, probes after the cool-down, closes once the exchange answers', async () => {
    const mock = await mockExchange();
    const config = fastConfig([{ id: 'bybit', baseUrl: mock.url }], { breaker: { failureThreshold: 2, cooldown: '400ms' } });
    const { collector: c, registry } = collector(config);
    const changes: BreakerChange[] = [];
    c.on('breaker', (ch) => changes.push(ch));
    expect((await c.pollOnce())[0]!.outcome).toBe('ok');

    mock.inject({ fault: { kind: 'status', status: 503 } });
    const failed = await c.pollOnce();
    // Funding and tickers both failed after their retries: two failed operations = K.
    expect(failed[0]!.outcome).toBe('failed');
    expect(failed[0]!.failures.map((f) => f.errorClass)).toEqual(['ExchangeNotAvailable', 'ExchangeNotAvailable']);
    expect(failed[0]!.breaker).toBe('open');
    expect(await metric(registry, 'ordertail_collector_breaker_state', { exchange: 'bybit' })).toBe(1);

    // Open: cycles are skipped without a single request.
    const sent = mock.count();
    const skipped = await c.pollOnce();
    expect(skipped[0]!.outcome).toBe('skipped');
    expect(mock.count()).toBe(sent);

    // Cool-down over, exchange still down: one probe request (with its retries), open again.
    await sleep(450);
    const probed = await c.pollOnce();
    expect(probed[0]!.outcome).toBe('failed');
    expect(probed[0]!.failures).toHaveLength(1); // the other stream was refused while the probe was out
    expect(mock.count() - sent).toBe(3); // 1 probe × 3 attempts

    // Recovery: the next probe succeeds and the breaker closes.
    mock.heal();
    await sleep(450);
    const recovered = await c.pollOnce();
    expect(recovered[0]!.breaker).toBe('closed');
    expect((await c.pollOnce())[0]!.outcome).toBe('ok');

    const path = changes.map((ch) => `${ch.from}→${ch.to}`);
    expect(path).toEqual(['closed→open', 'open→half-open', 'half-open→open', 'open→half-open', 'half-open→closed']);
    expect(await metric(registry, 'ordertail_collector_breaker_transitions_total', { to: 'open' })).toBe(2);
    expect(await metric(registry, 'ordertail_collector_breaker_state', { exchange: 'bybit' })).toBe(0);
  });

  it('a permanent error counts against the breaker too (no retries, but the exchange is not hammered)', async () => {
    const mock = await mockExchange();
    const { collector: c } = collector(fastConfig([{ id: 'binanceusdm', baseUrl: mock.url, funding: false }], { breaker: { failureThreshold: 2, cooldown: '10s' } }));
    await c.pollOnce();
    mock.inject({ fault: { kind: 'status', status: 500 } });
    const states: BreakerState[] = [];
    for (let i = 0; i < 4; i++) states.push((await c.pollOnce())[0]!.breaker);
    expect(states).toEqual(['closed', 'open', 'open', 'open']);
    expect(mock.count('/fapi/v1/ticker/24hr')).toBe(1 + 2);
  });
});
