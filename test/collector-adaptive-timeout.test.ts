/**
 * The per-exchange timeout follows observed latency within [min, max], backs
 * off on timeouts, and a slow exchange's requests end as RequestTimeout
 * (temporary: retried).
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveTimeout } from '../dist/src/collector/adaptive-timeout.js';
import { backoffDelayMs } from '../dist/src/collector/retry.js';
import { collector, fastConfig, metric, mockExchange } from './fixtures/mock-exchange/harness.js';

describe('AdaptiveTimeout', () => {
  it('settles near latency + 4 × deviation, clamped to the bounds', () => {
    const t = new AdaptiveTimeout({ initialMs: 5000, minMs: 100, maxMs: 10_000 });
    expect(t.currentMs).toBe(5000);
    for (let i = 0; i < 50; i++) t.observe(40);
    expect(t.currentMs).toBe(100); // 40 ms steady → floor
    for (let i = 0; i < 50; i++) t.observe(i % 2 ? 300 : 500);
    expect(t.currentMs).toBeGreaterThan(600);
    expect(t.currentMs).toBeLessThan(1000);
    for (let i = 0; i < 50; i++) t.observe(60_000);
    expect(t.currentMs).toBe(10_000); // ceiling
  });

  it('doubles on each timeout up to max; the next sample brings it back', () => {
    const t = new AdaptiveTimeout({ initialMs: 200, minMs: 100, maxMs: 1000 });
    t.onTimeout();
    expect(t.currentMs).toBe(400);
    t.onTimeout();
    t.onTimeout();
    expect(t.currentMs).toBe(1000);
    t.observe(20);
    expect(t.currentMs).toBe(100);
  });
});

describe('backoff', () => {
  it('is exponential with equal jitter: [cap/2, cap], cap = min(max, base × 2^n)', () => {
    const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelayMs(policy, n, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([0, 1, 2, 3, 4].map((n) => backoffDelayMs(policy, n, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('a slow exchange (real ccxt, mock binanceusdm)', () => {
  it('times out, retries, backs the timeout off; once fast again the timeout returns to the floor', async () => {
    const mock = await mockExchange({ latencyMs: 5 });
    const config = fastConfig([{ id: 'binanceusdm', baseUrl: mock.url, funding: false }], {
      timeout: { initial: '150ms', min: '100ms', max: '800ms' },
      retry: { attempts: 2, baseDelay: '10ms', maxDelay: '20ms' },
    });
    const { collector: c, registry } = collector(config);
    // The first requests carry connection set-up and ccxt's lazy loading; the smoothing forgets them.
    const settle = async (): Promise<number> => {
      for (let i = 1; i <= 40; i++) {
        await c.pollOnce();
        if (c.stats().exchanges[0]!.timeoutMs === 100) return i;
      }
      return Infinity;
    };
    expect(await settle()).toBeLessThan(40);

    // A request of the settling phase may itself have timed out on a loaded machine: count from here.
    const retriesBefore = await metric(registry, 'ordertail_collector_retries_total', { class: 'RequestTimeout' });
    mock.inject({ fault: { kind: 'delay', ms: 1500 } });
    const [slow] = await c.pollOnce();
    expect(slow!.failures).toEqual([expect.objectContaining({ errorClass: 'RequestTimeout', kind: 'temporary', attempts: 2 })]);
    expect(slow!.durationMs).toBeLessThan(1000); // 100 ms + 200 ms (backed off) + a backoff sleep
    expect(await metric(registry, 'ordertail_collector_retries_total', { class: 'RequestTimeout' })).toBe(retriesBefore + 1);
    expect(c.stats().exchanges[0]!.timeoutMs).toBe(400);

    mock.heal();
    expect(await settle()).toBeLessThanOrEqual(3); // one fresh sample resets the back-off
    expect(c.stats().exchanges[0]!.timeoutMs).toBe(100);
    expect(await metric(registry, 'ordertail_collector_timeout_seconds', { exchange: 'binanceusdm' })).toBe(0.1);
  });

  it('a latency well above the floor raises the timeout instead of timing out a healthy exchange', async () => {
    const mock = await mockExchange({ latencyMs: 120 });
    const config = fastConfig([{ id: 'bybit', baseUrl: mock.url, funding: false }], { timeout: { initial: '1s', min: '50ms', max: '2s' } });
    const { collector: c } = collector(config);
    for (let i = 0; i < 4; i++) expect((await c.pollOnce())[0]!.outcome).toBe('ok');
    const { timeoutMs, latencyMs } = c.stats().exchanges[0]!;
    expect(latencyMs).toBeGreaterThan(100);
    expect(timeoutMs).toBeGreaterThan(latencyMs!);
  });
});
