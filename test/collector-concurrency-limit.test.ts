/**
 * One limit on HTTP requests in flight across all exchanges; waiters are
 * served first come, first served, and dropped when the collector stops.
 */
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../dist/src/collector/limiter.js';
import { collector, fastConfig, mockExchange } from './fixtures/mock-exchange/harness.js';

describe('ConcurrencyLimiter', () => {
  it('grants up to the limit, then in arrival order as slots free up', async () => {
    const limiter = new ConcurrencyLimiter(2);
    const order: string[] = [];
    const a = await limiter.acquire();
    const b = await limiter.acquire();
    const waiting = ['c', 'd', 'e'].map((name) => limiter.acquire().then((release) => (order.push(name), release)));
    expect(limiter.inFlight).toBe(2);
    expect(limiter.waiting).toBe(3);
    a();
    a(); // idempotent: a second release frees nothing
    const c = await waiting[0]!;
    expect(limiter.inFlight).toBe(2);
    b();
    c();
    await Promise.all(waiting.slice(1));
    expect(order).toEqual(['c', 'd', 'e']);
    expect(limiter.inFlight).toBe(2);
  });

  it('an aborted waiter is rejected and skipped', async () => {
    const limiter = new ConcurrencyLimiter(1);
    const held = await limiter.acquire();
    const abort = new AbortController();
    const dropped = limiter.acquire(abort.signal);
    const next = limiter.acquire();
    abort.abort();
    await expect(dropped).rejects.toMatchObject({ code: 'ORDERTAIL_COLLECTOR_ABORTED' });
    held();
    (await next)();
    expect(limiter.inFlight).toBe(0);
  });
});

describe('against the mock', () => {
  it('the concurrency limit caps requests in flight across exchanges', async () => {
    const mock = await mockExchange({ latencyMs: 40 });
    const exchanges = ['a', 'b', 'c', 'd'].map((n) => ({ id: 'bybit', name: `bybit-${n}`, baseUrl: mock.url }));
    const { collector: c } = collector(fastConfig(exchanges, { concurrency: 3 }));
    await c.pollOnce();
    mock.maxInflight = 0;
    const started = performance.now();
    const reports = await c.pollOnce();
    const took = performance.now() - started;
    expect(reports.every((r) => r.outcome === 'ok')).toBe(true);
    expect(mock.maxInflight).toBe(3);
    // 8 requests of 40 ms through 3 slots: at least 3 rounds.
    expect(took).toBeGreaterThanOrEqual(3 * 40 - 5);
  });
});
