/**
 * The collector's config section: validated with errors that name the key,
 * development/production profiles (built in, overridable), flags over file,
 * API keys only from the environment.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectCommandFromFlags } from '../dist/src/cli/collect-command.js';
import { credentialsFromEnv, resolveCollectorConfig } from '../dist/src/collector/config.js';
import { Collector } from '../dist/src/collector/index.js';
import { ConfigError } from '../dist/src/config/errors.js';
import { workdir } from './helpers/workdir.js';

const expectConfigError = (fn: () => unknown, message: RegExp): void => {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).code).toBe('ORDERTAIL_CONFIG');
  expect((caught as Error).message).toMatch(message);
};

describe('collector config', () => {
  it('production is the default profile; development polls slower and fails faster', () => {
    const prod = resolveCollectorConfig({ exchanges: ['binanceusdm'] });
    expect(prod).toMatchObject({ profile: 'production', intervalMs: 1000, snapshotEvery: 60, breaker: { failureThreshold: 5, cooldownMs: 30_000 }, rateLimit: true });
    expect(prod.exchanges).toEqual([{ id: 'binanceusdm', name: 'binanceusdm', baseUrl: undefined, symbols: undefined, funding: undefined, ccxt: {} }]);
    const dev = resolveCollectorConfig({ exchanges: ['bybit'], profile: 'development' });
    expect(dev).toMatchObject({ profile: 'development', intervalMs: 5000, breaker: { failureThreshold: 3, cooldownMs: 10_000 } });
  });

  it('profiles: from the file override the built-ins; top-level keys override both; the flag picks the profile', () => {
    const raw = {
      exchanges: ['bybit'],
      profile: 'production',
      'snapshot-every': 7,
      profiles: { development: { interval: '2s', breaker: { cooldown: '1s' } }, production: { interval: '250ms' } },
    };
    expect(resolveCollectorConfig(raw)).toMatchObject({ intervalMs: 250, snapshotEvery: 7 });
    const dev = resolveCollectorConfig(raw, 'config', 'development');
    expect(dev).toMatchObject({ profile: 'development', intervalMs: 2000, snapshotEvery: 7, breaker: { failureThreshold: 3, cooldownMs: 1000 } });
  });

  it('errors name the key', () => {
    expectConfigError(() => resolveCollectorConfig({ exchanges: [] }), /collector\.exchanges: expected a non-empty list/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], interval: 'soon' }), /collector\.interval: expected a duration.*'soon'/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], breaker: { failureThreshold: 0 } }), /collector\.breaker\.failureThreshold: expected an integer from 1/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], retry: { jitter: true } }), /collector\.retry: unknown key 'jitter'/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], intervall: '1s' }), /^collector: unknown key 'intervall'; did you mean 'interval'\?/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], retry: { atempts: 3 } }, 'config c.yaml'), /^config c\.yaml: collector\.retry: unknown key 'atempts'; did you mean 'attempts'\?/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], marketTypes: ['spot'] }), /collector\.marketTypes/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: [{ id: 'bybit', baseUrl: 'http://x/api' }] }), /exchanges\[0\]\.baseUrl: expected an origin/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit', 'bybit'] }), /name 'bybit' appears twice/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], timeout: { min: '5s', max: '1s' } }), /timeout: min .* above max/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'] }, 'config', 'staging'), /collector\.profile: expected development \| production, got 'staging'/);
  });

  it('API keys in config are refused wherever they appear; the environment supplies them', () => {
    expectConfigError(() => resolveCollectorConfig({ exchanges: [{ id: 'bybit', apiKey: 'k' }] }), /only from the environment/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: [{ id: 'bybit', ccxt: { secret: 's' } }] }), /only from the environment/);
    expectConfigError(() => resolveCollectorConfig({ exchanges: ['bybit'], 'api-key': 'k' }), /only from the environment/);
    const env = { ORDERTAIL_BYBIT_EU_API_KEY: 'key', ORDERTAIL_BYBIT_EU_SECRET: 'secret', ORDERTAIL_OTHER_API_KEY: 'x' };
    expect(credentialsFromEnv('bybit-eu', env)).toEqual({ apiKey: 'key', secret: 'secret' });
    expect(credentialsFromEnv('binanceusdm', env)).toEqual({});
  });

  it('collect flags override the file key by key; the collector: section is used when present', () => {
    const dir = workdir();
    const file = join(dir, 'ordertail.yaml');
    writeFileSync(file, 'input: logs/*.ndjson\ncollector:\n  exchanges: [okx]\n  interval: 3s\n  symbols: [BTC/USDT:USDT]\n  concurrency: 4\n');
    const cmd = collectCommandFromFlags({ config: file, exchange: ['binanceusdm', 'bybit'], interval: '500ms', baseUrl: 'http://127.0.0.1:9', sink: 'file:/tmp/x.ndjson' });
    expect(cmd.config.exchanges.map((e) => [e.id, e.baseUrl])).toEqual([
      ['binanceusdm', 'http://127.0.0.1:9'],
      ['bybit', 'http://127.0.0.1:9'],
    ]);
    expect(cmd.config).toMatchObject({ intervalMs: 500, symbols: ['BTC/USDT:USDT'], concurrency: 4 });
    expect(cmd.sink).toEqual({ kind: 'file', path: '/tmp/x.ndjson' });
    expect(cmd.once).toBe(false);
    expectConfigError(() => collectCommandFromFlags({ exchange: ['bybit'], duration: 'a while' }), /--duration/);
  });

  it('exchange ids and funding support are checked against ccxt when the collector is built', () => {
    const build = (exchanges: unknown[]) => () => new Collector(resolveCollectorConfig({ exchanges }), { write: () => true });
    expectConfigError(build(['binanceusdm', 'notanexchange']), /'notanexchange' is not a ccxt exchange id/);
    expectConfigError(build([{ id: 'bitstamp', funding: true }]), /bitstamp has no fetchFundingRates/);
    expect(build(['binanceusdm', { id: 'bybit', funding: false }])()).toBeInstanceOf(Collector);
  });
});
