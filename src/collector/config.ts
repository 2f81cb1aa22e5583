import { ConfigError } from '../config/errors.js';
import { parseDurationMs } from '../config/units.js';
import { didYouMean } from '../config/suggest.js';
import { PROFILE_DEFAULTS, PROFILE_NAMES, type ProfileName } from './profiles.js';
import { CHANGE_FIELDS, type RecordType } from './records.js';

/**
 * The `collector:` config section (YAML or library object), validated.
 *
 *   collector:
 *     profile: production            # or development (built-in defaults, profiles.ts)
 *     exchanges:                     # ccxt ids, or mappings:
 *       - binanceusdm
 *       - { id: bybit, name: bybit-eu, symbols: [BTC/USDT:USDT], baseUrl: http://proxy:8080,
 *           funding: true, ccxt: { options: { … } } }
 *     symbols: [BTC/USDT:USDT]       # default: every swap/future market
 *     marketTypes: [swap, future]
 *     interval: 1s
 *     marketsRefresh: 15m
 *     snapshotEvery: 60              # cycles
 *     concurrency: 32                # HTTP requests in flight, all exchanges
 *     timeout: { initial: 5s, min: 1s, max: 10s }
 *     retry: { attempts: 3, baseDelay: 250ms, maxDelay: 2s }
 *     breaker: { failureThreshold: 5, cooldown: 30s }
 *     shutdownTimeout: 10s
 *     rateLimit: true                # ccxt's own rate limiter
 *     changeFields: { ticker: [...], funding: [...] }
 *     profiles: { development: { … }, production: { … } }
 *
 * API keys are never read from config: ORDERTAIL_<NAME>_API_KEY, _SECRET and
 * _PASSWORD in the environment (NAME = exchange name, upper case, non-alphanumerics as _).
 */
export interface ExchangeSpec {
  /** ccxt exchange id (checked against ccxt when the collector starts). */
  id: string;
  /** Label in records and metrics; unique. Default: the id. */
  name: string;
  /** Route every REST request to this origin (a proxy, a mirror, a test double). */
  baseUrl: string | undefined;
  /** Overrides the section's symbols for this exchange. */
  symbols: string[] | undefined;
  /** Poll funding rates; default: when ccxt says the exchange has fetchFundingRates. */
  funding: boolean | undefined;
  /** Passed to the ccxt constructor (options, rateLimit, headers…); never credentials. */
  ccxt: Record<string, unknown>;
}

export interface CollectorConfig {
  profile: ProfileName;
  exchanges: ExchangeSpec[];
  symbols: string[] | undefined;
  marketTypes: ('swap' | 'future')[];
  intervalMs: number;
  marketsRefreshMs: number;
  snapshotEvery: number;
  concurrency: number;
  timeout: { initialMs: number; minMs: number; maxMs: number };
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  breaker: { failureThreshold: number; cooldownMs: number };
  shutdownTimeoutMs: number;
  rateLimit: boolean;
  changeFields: Record<RecordType, string[]>;
}

type Raw = Record<string, unknown>;

const SECTION_KEYS = [
  'profile', 'profiles', 'exchanges', 'symbols', 'marketTypes', 'interval', 'marketsRefresh', 'snapshotEvery',
  'concurrency', 'timeout', 'retry', 'breaker', 'shutdownTimeout', 'rateLimit', 'changeFields',
];
const EXCHANGE_KEYS = ['id', 'name', 'baseUrl', 'symbols', 'funding', 'ccxt'];
const CREDENTIAL_KEYS = /^(api-?key|secret|password|uid|private-?key|wallet-?address|token|login|twofa)$/i;

const kebabToCamel = (key: string): string => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const describe = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value)));

/** "ORIGIN: ", or nothing where the caller names the origin itself (the engine's options). */
const at = (origin: string): string => (origin === '' ? '' : `${origin}: `);

class Reader {
  constructor(private readonly origin: string) {}

  fail(key: string, expected: string, value: unknown): never {
    throw new ConfigError(`${at(this.origin)}${key}: expected ${expected}, got ${describe(value)}`, key);
  }

  mapping(value: unknown, key: string, known: readonly string[]): Raw {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.fail(key, 'a mapping', value);
    const out: Raw = {};
    for (const [rawKey, v] of Object.entries(value as Raw)) {
      const k = kebabToCamel(rawKey);
      if (CREDENTIAL_KEYS.test(k)) {
        throw new ConfigError(`${at(this.origin)}${key}.${rawKey}: API keys are read only from the environment (ORDERTAIL_<EXCHANGE>_API_KEY, _SECRET, _PASSWORD), never from config`, `${key}.${rawKey}`);
      }
      if (!known.includes(k)) throw new ConfigError(`${at(this.origin)}${key}: unknown key '${rawKey}'${didYouMean(rawKey, known)} (known: ${known.join(', ')})`, `${key}.${rawKey}`);
      out[k] = v;
    }
    return out;
  }

  duration(value: unknown, key: string, min = 0): number {
    const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDurationMs(value) : undefined;
    if (ms === undefined || !Number.isFinite(ms) || ms < min) return this.fail(key, `a duration such as 1s, 500ms, 5m${min > 0 ? ` (at least ${min} ms)` : ''}`, value);
    return ms;
  }

  integer(value: unknown, key: string, min: number, max: number): number {
    const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) return this.fail(key, `an integer from ${min} to ${max}`, value);
    return n;
  }

  boolean(value: unknown, key: string): boolean {
    return typeof value === 'boolean' ? value : this.fail(key, 'true or false', value);
  }

  strings(value: unknown, key: string): string[] {
    const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
      return this.fail(key, 'a non-empty list of strings (or a comma-separated string)', value);
    }
    return [...new Set(list as string[])];
  }

  url(value: unknown, key: string): string {
    if (typeof value === 'string') {
      try {
        const u = new URL(value);
        if ((u.protocol === 'http:' || u.protocol === 'https:') && u.pathname === '/' && !u.search) return u.origin;
      } catch {
        /* reported below */
      }
    }
    return this.fail(key, 'an origin such as http://127.0.0.1:8080 (no path)', value);
  }
}

/** Deep merge of plain mappings; later wins, lists are replaced whole. */
function merge(...layers: (Raw | undefined)[]): Raw {
  const out: Raw = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) {
      const key = kebabToCamel(k);
      const prev = out[key];
      const isMap = (x: unknown): x is Raw => x !== null && typeof x === 'object' && !Array.isArray(x);
      out[key] = isMap(prev) && isMap(v) && key !== 'ccxt' ? merge(prev, v) : v;
    }
  }
  return out;
}

function exchangeSpec(r: Reader, value: unknown, key: string): ExchangeSpec {
  const raw: Raw = typeof value === 'string' ? { id: value } : r.mapping(value, key, EXCHANGE_KEYS);
  if (typeof raw.id !== 'string' || !/^[a-z0-9]+$/.test(raw.id)) return r.fail(`${key}.id`, 'a ccxt exchange id such as binanceusdm', raw.id);
  const name = raw.name === undefined ? raw.id : raw.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name)) return r.fail(`${key}.name`, 'a name of letters, digits, _ . -', raw.name);
  const ccxt = raw.ccxt === undefined ? {} : r.mapping(raw.ccxt, `${key}.ccxt`, Object.keys(raw.ccxt as object).map(kebabToCamel));
  return {
    id: raw.id,
    name,
    baseUrl: raw.baseUrl === undefined ? undefined : r.url(raw.baseUrl, `${key}.baseUrl`),
    symbols: raw.symbols === undefined ? undefined : r.strings(raw.symbols, `${key}.symbols`),
    funding: raw.funding === undefined ? undefined : r.boolean(raw.funding, `${key}.funding`),
    ccxt,
  };
}

/**
 * Validate a `collector:` section. `profile` (e.g. from a --profile flag) wins
 * over the section's own `profile` key. Errors are ConfigError naming the key
 * by its path (`collector.retry: …`), after `origin` when one is given (a
 * config file's name).
 */
export function resolveCollectorConfig(raw: unknown, origin = '', profile?: string): CollectorConfig {
  const r = new Reader(origin);
  const section = r.mapping(raw ?? {}, 'collector', SECTION_KEYS);
  const chosen = profile ?? section.profile ?? 'production';
  if (typeof chosen !== 'string' || !PROFILE_NAMES.includes(chosen as ProfileName)) return r.fail('collector.profile', PROFILE_NAMES.join(' | '), chosen);
  const name = chosen as ProfileName;
  const overrides = section.profiles === undefined ? {} : r.mapping(section.profiles, 'collector.profiles', PROFILE_NAMES);
  const ownProfile = overrides[name] === undefined ? undefined : r.mapping(overrides[name], `collector.profiles.${name}`, SECTION_KEYS.filter((k) => k !== 'profile' && k !== 'profiles'));
  const { profile: _p, profiles: _ps, ...top } = section;
  const v = merge(PROFILE_DEFAULTS[name] as Raw, ownProfile, top);

  if (!Array.isArray(v.exchanges) || v.exchanges.length === 0) return r.fail('collector.exchanges', 'a non-empty list of exchanges (ccxt ids such as binanceusdm, bybit)', v.exchanges);
  const exchanges = v.exchanges.map((e, i) => exchangeSpec(r, e, `collector.exchanges[${i}]`));
  const names = new Set<string>();
  for (const e of exchanges) {
    if (names.has(e.name)) throw new ConfigError(`${at(origin)}collector.exchanges: name '${e.name}' appears twice; give one a distinct name`, 'collector.exchanges');
    names.add(e.name);
  }
  const marketTypes = r.strings(v.marketTypes, 'collector.marketTypes');
  for (const t of marketTypes) if (t !== 'swap' && t !== 'future') r.fail('collector.marketTypes', "a list of 'swap' and/or 'future'", v.marketTypes);
  const timeout = r.mapping(v.timeout, 'collector.timeout', ['initial', 'min', 'max']);
  const retry = r.mapping(v.retry, 'collector.retry', ['attempts', 'baseDelay', 'maxDelay']);
  const breaker = r.mapping(v.breaker, 'collector.breaker', ['failureThreshold', 'cooldown']);
  const fields = v.changeFields === undefined ? {} : r.mapping(v.changeFields, 'collector.changeFields', ['ticker', 'funding']);
  const config: CollectorConfig = {
    profile: name,
    exchanges,
    symbols: v.symbols === undefined ? undefined : r.strings(v.symbols, 'collector.symbols'),
    marketTypes: marketTypes as ('swap' | 'future')[],
    intervalMs: r.duration(v.interval, 'collector.interval', 10),
    marketsRefreshMs: r.duration(v.marketsRefresh, 'collector.marketsRefresh', 100),
    snapshotEvery: r.integer(v.snapshotEvery, 'collector.snapshotEvery', 1, 1_000_000),
    concurrency: r.integer(v.concurrency, 'collector.concurrency', 1, 10_000),
    timeout: {
      initialMs: r.duration(timeout.initial, 'collector.timeout.initial', 1),
      minMs: r.duration(timeout.min, 'collector.timeout.min', 1),
      maxMs: r.duration(timeout.max, 'collector.timeout.max', 1),
    },
    retry: {
      attempts: r.integer(retry.attempts, 'collector.retry.attempts', 1, 20),
      baseDelayMs: r.duration(retry.baseDelay, 'collector.retry.baseDelay'),
      maxDelayMs: r.duration(retry.maxDelay, 'collector.retry.maxDelay'),
    },
    breaker: {
      failureThreshold: r.integer(breaker.failureThreshold, 'collector.breaker.failureThreshold', 1, 1000),
      cooldownMs: r.duration(breaker.cooldown, 'collector.breaker.cooldown'),
    },
    shutdownTimeoutMs: r.duration(v.shutdownTimeout, 'collector.shutdownTimeout'),
    rateLimit: r.boolean(v.rateLimit, 'collector.rateLimit'),
    changeFields: {
      ticker: fields.ticker === undefined ? [...CHANGE_FIELDS.ticker] : r.strings(fields.ticker, 'collector.changeFields.ticker'),
      funding: fields.funding === undefined ? [...CHANGE_FIELDS.funding] : r.strings(fields.funding, 'collector.changeFields.funding'),
    },
  };
  const t = config.timeout;
  if (t.minMs > t.maxMs) throw new ConfigError(`${at(origin)}collector.timeout: min (${t.minMs} ms) is above max (${t.maxMs} ms)`, 'collector.timeout');
  if (config.retry.baseDelayMs > config.retry.maxDelayMs) throw new ConfigError(`${at(origin)}collector.retry: baseDelay is above maxDelay`, 'collector.retry');
  return config;
}

/** ORDERTAIL_<NAME>_API_KEY etc. → ccxt credential fields (only those set). */
export function credentialsFromEnv(name: string, env: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const prefix = `ORDERTAIL_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
  const out: Record<string, string> = {};
  const pairs: [string, string][] = [['API_KEY', 'apiKey'], ['SECRET', 'secret'], ['PASSWORD', 'password']];
  for (const [suffix, field] of pairs) {
    const value = env[prefix + suffix];
    if (value) out[field] = value;
  }
  return out;
}
