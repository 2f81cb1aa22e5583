/**
 * A slow or dead exchange never delays the others: each exchange polls on its
 * own loop, so while one hangs the healthy ones keep their cadence and write
 * their records on time.
 */
import { describe, expect, it } from 'vitest';
import type { CycleReport } from '../dist/src/collector/index.js';
import { collector, fastConfig, mockExchange, sleep } from './fixtures/mock-exchange/harness.js';

describe('isolation between exchanges', () => {
  it('healthy exchanges keep their cadence while one hangs on every request', async () => {
    const healthy = await mockExchange({ latencyMs: 10, moveEachRequest: true });
    const dead = await mockExchange({ latencyMs: 10 });
    const config = fastConfig(
      [
        { id: 'binanceusdm', baseUrl: healthy.url },
        { id: 'bybit', baseUrl: healthy.url },
        { id: 'bybit', name: 'bybit-dead', baseUrl: dead.url },
      ],
      // A timeout far above a loaded machine's scheduling delays: a cycle that waited for the dead exchange stands out.
      { interval: '100ms', timeout: { initial: '1s', min: '1s', max: '2s' }, breaker: { failureThreshold: 100, cooldown: '1s' } },
    );
    const { collector: c, records } = collector(config);
    const reports: CycleReport[] = [];
    c.on('cycle', (r) => reports.push(r));
    dead.inject({ fault: { kind: 'hang' } });
    await c.start();
    await sleep(3000);
    await c.stop();

    const of = (name: string): CycleReport[] => reports.filter((r) => r.exchange === name);
    for (const name of ['binanceusdm', 'bybit']) {
      const cycles = of(name).slice(1); // the first cycle also loads markets and warms ccxt up
      expect(cycles.length, name).toBeGreaterThanOrEqual(12); // 3 s at 100 ms is 30: room for warm-up and a loaded machine
      const lags = cycles.map((r) => r.finishedAt - r.scheduledAt).sort((a, b) => a - b);
      for (const r of cycles) expect(r.outcome, name).toBe('ok');
      // Had any cycle waited for the dead exchange, it would have taken its 1 s timeout.
      expect(lags.at(-1)!, name).toBeLessThan(800);
      // Typically written well inside its own 100 ms tick.
      expect(lags[Math.floor(lags.length / 2)]!, name).toBeLessThan(100);
    }
    // The dead exchange: every request timed out, nothing written for it.
    const deadCycles = of('bybit-dead');
    expect(deadCycles.length).toBeLessThanOrEqual(2); // each waits out its timeouts (1–2 s, 3 attempts)
    for (const r of deadCycles) expect(r.failures.map((f) => f.errorClass)).toContain('RequestTimeout');
    expect(records.some((r) => r.exchange === 'bybit-dead')).toBe(false);
    expect(records.filter((r) => r.exchange === 'binanceusdm' && r.type === 'ticker').length).toBeGreaterThanOrEqual(3 * 12);
  });

  it('a body that stalls after the headers is cut off by the collector deadline (ccxt stops its timer at the headers)', async () => {
    const mock = await mockExchange();
    const config = fastConfig([{ id: 'bybit', baseUrl: mock.url, funding: false }], {
      timeout: { initial: '200ms', min: '200ms', max: '200ms' },
      retry: { attempts: 1, baseDelay: '10ms', maxDelay: '10ms' },
    });
    const { collector: c } = collector(config);
    await c.pollOnce();
    mock.inject({ fault: { kind: 'stall' }, times: 1, path: '/v5/market/tickers' });
    const started = performance.now();
    const [report] = await c.pollOnce();
    const took = performance.now() - started;
    expect(report!.failures).toEqual([expect.objectContaining({ errorClass: 'RequestTimeout', kind: 'temporary' })]);
    expect(took).toBeGreaterThanOrEqual(380); // 2 × timeout: the body gets as long as the headers
    expect(took).toBeLessThan(1500);
  });
});
