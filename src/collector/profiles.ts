/**
 * Built-in defaults per profile. `production` is conservative with exchanges
 * (ccxt's rate limiter on, patient breaker); `development` fails fast and
 * polls slowly, for working against real exchanges from a laptop without
 * getting an IP banned. A config file may override either under
 * `profiles.<name>`; keys at the top of the section override both.
 */
export type ProfileName = 'development' | 'production';

export const PROFILE_NAMES: readonly ProfileName[] = ['development', 'production'];

/** Raw (unparsed) values, in the same shape and units a YAML file uses. */
export const PROFILE_DEFAULTS: Readonly<Record<ProfileName, Readonly<Record<string, unknown>>>> = {
  production: {
    interval: '1s',
    marketsRefresh: '15m',
    snapshotEvery: 60,
    concurrency: 32,
    marketTypes: ['swap', 'future'],
    timeout: { initial: '5s', min: '1s', max: '10s' },
    retry: { attempts: 3, baseDelay: '250ms', maxDelay: '2s' },
    breaker: { failureThreshold: 5, cooldown: '30s' },
    shutdownTimeout: '10s',
    rateLimit: true,
  },
  development: {
    interval: '5s',
    marketsRefresh: '5m',
    snapshotEvery: 12,
    concurrency: 8,
    marketTypes: ['swap', 'future'],
    timeout: { initial: '3s', min: '500ms', max: '5s' },
    retry: { attempts: 2, baseDelay: '100ms', maxDelay: '1s' },
    breaker: { failureThreshold: 3, cooldown: '10s' },
    shutdownTimeout: '5s',
    rateLimit: true,
  },
};
