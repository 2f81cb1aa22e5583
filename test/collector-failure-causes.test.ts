/**
 * The collector says why it got nothing: each failure's class and message
 * (ccxt's carry the HTTP status) in a warning, the breaker opening with its
 * cause, and `collect --once` exits non-zero when an exchange produced nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plainLines, runCli } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';
import { collector, fastConfig, metric, mockExchange } from './fixtures/mock-exchange/harness.js';

// Nothing listens on port 1: every request is refused at once.
const UNREACHABLE = ['--exchange', 'binanceusdm', '--base-url', 'http://127.0.0.1:1', '--no-rate-limit'];

describe('collector failures are reported with their cause', () => {
  it('collect --once against an unreachable exchange: exit 1, the exchange and the cause named', async () => {
    const r = await runCli(['collect', '--once', ...UNREACHABLE], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/binanceusdm: cycle 1 failed: markets NetworkError after \d attempts: .*ECONNREFUSED/);
    expect(plainLines(r.stderr).at(-1)).toMatch(/^ordertail: nothing collected from binanceusdm \(markets NetworkError .*ECONNREFUSED 127\.0\.0\.1:1\)$/);
  });

  it('a longer run: the breaker opening names its last failure; a repeating failure is logged once', async () => {
    // The breaker opens after 2 failed cycles instead of 5: the run stays short
    // (6 s leaves room for loading ccxt on a loaded machine).
    const config = join(workdir(), 'collector.yaml');
    writeFileSync(config, 'collector:\n  breaker: { failureThreshold: 2, cooldown: 10s }\n');
    const r = await runCli(['collect', '--config', config, ...UNREACHABLE, '--interval', '100ms', '--duration', '6s'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/binanceusdm: circuit breaker closed → open \(last failure: markets NetworkError.*ECONNREFUSED/);
    expect(r.stderr.match(/cycle \d+ failed/g)).toHaveLength(1);
  });
});

describe('an exchange that answers with an error status', () => {
  it('the warning and the failure carry the HTTP status; ordertail_collector_http_errors_total counts it', async () => {
    const mock = await mockExchange();
    mock.inject({ fault: { kind: 'status', status: 503 } });
    // Timeouts far above any answer's time: on a loaded machine an attempt timing out would not carry the status.
    const { collector: c, warnings, registry } = collector(fastConfig([{ id: 'bybit', baseUrl: mock.url }], { timeout: { initial: '10s', min: '5s', max: '10s' } }));
    const [report] = await c.pollOnce();
    expect(report!.outcome).toBe('failed');
    expect(report!.failures[0]).toMatchObject({ errorClass: 'ExchangeNotAvailable', httpStatus: 503 });
    expect(warnings).toEqual([expect.stringMatching(/^bybit: cycle 1 failed: markets ExchangeNotAvailable \(HTTP 503\) after 3 attempts: bybit GET \S+ 503 /)]);
    expect(await metric(registry, 'ordertail_collector_http_errors_total', { exchange: 'bybit', status: '503' })).toBe(3);
  });
});
