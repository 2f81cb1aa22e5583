import * as ccxt from 'ccxt';
import type { Exchange, FundingRate, Market, Ticker } from 'ccxt';
import { ConfigError } from '../config/errors.js';
import { credentialsFromEnv, type ExchangeSpec } from './config.js';
import type { UnifiedEntry } from './records.js';

/**
 * One ccxt exchange instance, narrowed to what the collector needs: load the
 * contract markets, fetch all tickers and all funding rates, keep what is
 * tracked. Three hooks are installed on the instance:
 *
 * - `urls.api` rebased onto `baseUrl` (every REST origin replaced), so a proxy,
 *   a mirror or the test mock answers instead of the exchange;
 * - `parseJson` refuses a 2xx body that starts like JSON but does not parse:
 *   ccxt would hand the raw string to the parser, which returns an empty
 *   result (bybit: "no tickers", i.e. every symbol delisted) or throws a
 *   TypeError (binance). It becomes ccxt's own BadResponse instead;
 * - `fetch` goes through the HttpGate: a concurrency slot, latency samples,
 *   and a hard deadline. ccxt's own timer stops once the headers arrive, so a
 *   body that stalls would otherwise hang the call forever.
 *
 * Tickers and funding rates are always fetched for ALL markets and filtered
 * here: asking ccxt for named symbols makes one delisted symbol fail the whole
 * call with BadSymbol (a permanent error) until the config is edited.
 */
export interface HttpGate {
  /** Resolves with a release function once the request may go out. */
  acquire(): Promise<() => void>;
  /** An HTTP exchange finished with an answer (success or an error status) after `ms`. */
  observe(ms: number): void;
  /** Hard limit for one request (headers and body), ms. */
  deadlineMs(): number;
}

export interface ClientSettings {
  marketTypes: readonly ('swap' | 'future')[];
  /** Global symbol filter; the spec's own list wins. */
  symbols: readonly string[] | undefined;
  rateLimit: boolean;
  timeoutMs: number;
  env?: Readonly<Record<string, string | undefined>>;
}

/** What each exchange needs to load contract markets only (fewer, smaller requests). */
const CONTRACT_OPTIONS: Readonly<Record<string, Record<string, unknown>>> = {
  bybit: { fetchMarkets: { types: ['linear'] } },
  binance: { fetchMarkets: { types: ['linear', 'inverse'] } },
};

type ExchangeClass = new (config?: Record<string, unknown>) => Exchange;

export function exchangeClass(id: string): ExchangeClass {
  // ccxt's named `exchanges` export maps each id to its class (the default export's is a list of ids).
  const ctor: unknown = Object.hasOwn(ccxt.exchanges, id) ? (ccxt.exchanges as Record<string, unknown>)[id] : undefined;
  if (typeof ctor !== 'function') {
    throw new ConfigError(`collector.exchanges: '${id}' is not a ccxt exchange id (e.g. binanceusdm, bybit, okx)`, 'collector.exchanges');
  }
  return ctor as ExchangeClass;
}

function rebase(value: unknown, origin: string): unknown {
  if (typeof value === 'string') return value.replace(/^https?:\/\/[^/]+/, origin);
  if (Array.isArray(value)) return value.map((v) => rebase(v, origin));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = rebase(v, origin);
    return out;
  }
  return value;
}

export class ExchangeClient {
  readonly exchange: Exchange;
  readonly name: string;
  readonly hasFunding: boolean;
  private tracked = new Set<string>();
  private readonly wanted: ReadonlySet<string> | undefined;
  private marketsLoaded = false;

  constructor(
    readonly spec: ExchangeSpec,
    private readonly settings: ClientSettings,
    gate: HttpGate,
  ) {
    const Ctor = exchangeClass(spec.id);
    const userOptions = (spec.ccxt.options ?? {}) as Record<string, unknown>;
    this.exchange = new Ctor({
      enableRateLimit: settings.rateLimit,
      ...spec.ccxt,
      ...credentialsFromEnv(spec.name, settings.env),
      timeout: settings.timeoutMs,
      options: { defaultType: 'swap', ...CONTRACT_OPTIONS[spec.id], ...userOptions },
    });
    this.name = spec.name;
    const has = this.exchange.has;
    const funding = has.fetchFundingRates === true || has.fetchFundingRates === 'emulated';
    if (spec.funding === true && !funding) {
      // Polling it anyway would fail every cycle with NotSupported and open the
      // breaker, which would stop the tickers too.
      throw new ConfigError(`collector.exchanges: ${spec.name}: ccxt's ${spec.id} has no fetchFundingRates; remove 'funding: true'`, 'collector.exchanges');
    }
    this.hasFunding = spec.funding ?? funding;
    const symbols = spec.symbols ?? settings.symbols;
    this.wanted = symbols ? new Set(symbols) : undefined;
    if (spec.baseUrl !== undefined) this.exchange.urls.api = rebase(this.exchange.urls.api, spec.baseUrl) as Exchange['urls']['api'];
    this.installJsonGuard();
    this.installGate(gate);
  }

  get ready(): boolean {
    return this.marketsLoaded;
  }

  /** Symbols currently polled (contract markets of the wanted types, filtered by the symbol list). */
  get symbols(): ReadonlySet<string> {
    return this.tracked;
  }

  setTimeout(ms: number): void {
    this.exchange.timeout = ms;
  }

  /** Load or refresh the markets; returns requested symbols the exchange does not list. */
  async loadMarkets(): Promise<string[]> {
    // Always reload: ccxt caches the promise of its first load, so after a
    // failed first load loadMarkets(false) would return that rejection forever.
    const markets = await this.exchange.loadMarkets(true);
    const tracked = new Set<string>();
    for (const market of Object.values(markets)) if (market !== undefined && this.isTracked(market)) tracked.add(market.symbol);
    this.tracked = tracked;
    this.marketsLoaded = true;
    return this.wanted ? [...this.wanted].filter((s) => !tracked.has(s)) : [];
  }

  async fetchTickers(): Promise<UnifiedEntry[]> {
    const all: Record<string, Ticker> = await this.exchange.fetchTickers();
    return this.keep(all);
  }

  async fetchFundingRates(): Promise<UnifiedEntry[]> {
    const all: Record<string, FundingRate> = await this.exchange.fetchFundingRates();
    return this.keep(all);
  }

  private keep(all: Record<string, Ticker | FundingRate>): UnifiedEntry[] {
    const out: UnifiedEntry[] = [];
    for (const entry of Object.values(all)) {
      // ccxt's structures are plain objects; read them as field maps from here on.
      if (entry.symbol !== undefined && this.tracked.has(entry.symbol)) out.push(entry as unknown as UnifiedEntry);
    }
    return out;
  }

  private isTracked(market: NonNullable<Market>): boolean {
    if (!market.contract || market.active === false) return false;
    const type = market.swap ? 'swap' : market.future ? 'future' : undefined;
    if (type === undefined || !this.settings.marketTypes.includes(type)) return false;
    return this.wanted === undefined || this.wanted.has(market.symbol);
  }

  private installJsonGuard(): void {
    const ex = this.exchange;
    const parse = ex.parseJson.bind(ex);
    ex.parseJson = (text: unknown): unknown => {
      const value: unknown = parse(text);
      if (value === undefined && typeof text === 'string' && /^\s*[[{]/.test(text)) {
        throw new ccxt.BadResponse(`${ex.id} malformed JSON in response body (${text.length} bytes): ${text.slice(0, 80)}`);
      }
      return value;
    };
  }

  private installGate(gate: HttpGate): void {
    const ex = this.exchange;
    const fetch = ex.fetch.bind(ex);
    ex.fetch = async (url: string, method?: string, headers?: unknown, body?: unknown): Promise<unknown> => {
      const release = await gate.acquire();
      const started = performance.now();
      const deadline = gate.deadlineMs();
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ccxt.RequestTimeout(`${ex.id} ${method ?? 'GET'} ${url} no complete answer within ${deadline} ms`)),
          deadline,
        );
      });
      try {
        const result: unknown = await Promise.race([fetch(url, method, headers, body), stalled]);
        gate.observe(performance.now() - started);
        return result;
      } catch (err) {
        if (!(err instanceof ccxt.RequestTimeout)) gate.observe(performance.now() - started);
        throw err;
      } finally {
        clearTimeout(timer);
        release();
      }
    };
  }
}
