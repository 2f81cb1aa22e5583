/**
 * Response bodies in the exact shapes binance USD-M futures and bybit v5 return
 * on the REST paths ccxt calls (paths found by logging ccxt's requests; field
 * names from the exchanges' API docs, which ccxt's parsers read).
 */

/** One perpetual contract the mock lists; prices move only when told to. */
export interface MockInstrument {
  base: string;
  quote: string;
  last: number;
  fundingRate: number;
  /** Next funding settlement, epoch ms. */
  nextFundingTime: number;
  /** Last price move, epoch ms: binance's 24h ticker `closeTime` (the last trade), unchanged while nothing trades. */
  updatedAt: number;
}

export interface VenueRoute {
  /** Body for a request on this path, or undefined when the path is not this venue's. */
  (path: string, query: URLSearchParams, instruments: readonly MockInstrument[], now: number): unknown;
}

const px = (n: number): string => n.toFixed(2);

function binanceExchangeInfo(instruments: readonly MockInstrument[], now: number): unknown {
  return {
    timezone: 'UTC',
    serverTime: now,
    futuresType: 'U_MARGINED',
    rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 }],
    exchangeFilters: [],
    assets: [{ asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' }],
    symbols: instruments.map((i) => ({
      symbol: i.base + i.quote,
      pair: i.base + i.quote,
      contractType: 'PERPETUAL',
      deliveryDate: 4133404800000,
      onboardDate: 1569398400000,
      status: 'TRADING',
      maintMarginPercent: '2.5000',
      requiredMarginPercent: '5.0000',
      baseAsset: i.base,
      quoteAsset: i.quote,
      marginAsset: i.quote,
      pricePrecision: 2,
      quantityPrecision: 3,
      baseAssetPrecision: 8,
      quotePrecision: 8,
      underlyingType: 'COIN',
      underlyingSubType: [],
      triggerProtect: '0.0500',
      liquidationFee: '0.012500',
      marketTakeBound: '0.05',
      filters: [
        { filterType: 'PRICE_FILTER', minPrice: '0.10', maxPrice: '4529764', tickSize: '0.10' },
        { filterType: 'LOT_SIZE', minQty: '0.001', maxQty: '1000', stepSize: '0.001' },
        { filterType: 'MARKET_LOT_SIZE', minQty: '0.001', maxQty: '120', stepSize: '0.001' },
        { filterType: 'MIN_NOTIONAL', notional: '100' },
      ],
      orderTypes: ['LIMIT', 'MARKET', 'STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET'],
      timeInForce: ['GTC', 'IOC', 'FOK', 'GTX'],
    })),
  };
}

function binanceTicker24hr(instruments: readonly MockInstrument[], now: number): unknown {
  return instruments.map((i) => ({
    symbol: i.base + i.quote,
    priceChange: px(i.last * 0.01),
    priceChangePercent: '1.000',
    weightedAvgPrice: px(i.last * 0.995),
    lastPrice: px(i.last),
    lastQty: '0.010',
    openPrice: px(i.last * 0.99),
    highPrice: px(i.last * 1.02),
    lowPrice: px(i.last * 0.97),
    volume: '123456.789',
    quoteVolume: px(i.last * 123456.789),
    openTime: i.updatedAt - 86_400_000,
    closeTime: i.updatedAt,
    firstId: 1,
    lastId: 1000,
    count: 1000,
  }));
}

function binancePremiumIndex(instruments: readonly MockInstrument[], now: number): unknown {
  return instruments.map((i) => ({
    symbol: i.base + i.quote,
    markPrice: px(i.last),
    indexPrice: px(i.last * 1.0001),
    estimatedSettlePrice: px(i.last),
    lastFundingRate: i.fundingRate.toFixed(8),
    interestRate: '0.00010000',
    nextFundingTime: i.nextFundingTime,
    time: now,
  }));
}

/** binanceusdm: https://fapi.binance.com/fapi/v1/… */
export const binanceusdm: VenueRoute = (path, _query, instruments, now) => {
  switch (path) {
    case '/fapi/v1/exchangeInfo':
      return binanceExchangeInfo(instruments, now);
    case '/fapi/v1/ticker/24hr':
      return binanceTicker24hr(instruments, now);
    case '/fapi/v1/premiumIndex':
      return binancePremiumIndex(instruments, now);
    default:
      return undefined;
  }
};

const bybitEnvelope = (result: unknown, now: number): unknown => ({ retCode: 0, retMsg: 'OK', result, retExtInfo: {}, time: now });

function bybitInstruments(query: URLSearchParams, instruments: readonly MockInstrument[], now: number): unknown {
  const category = query.get('category') ?? 'linear';
  // ccxt asks for pre-launch contracts separately; the mock lists none.
  const list =
    category !== 'linear' || query.get('status') === 'PreLaunch'
      ? []
      : instruments.map((i) => ({
          symbol: i.base + i.quote,
          contractType: 'LinearPerpetual',
          status: 'Trading',
          baseCoin: i.base,
          quoteCoin: i.quote,
          launchTime: '1585526400000',
          deliveryTime: '0',
          deliveryFeeRate: '',
          priceScale: '2',
          leverageFilter: { minLeverage: '1', maxLeverage: '100.00', leverageStep: '0.01' },
          priceFilter: { minPrice: '0.10', maxPrice: '1999999.80', tickSize: '0.10' },
          lotSizeFilter: { maxOrderQty: '1190.000', minOrderQty: '0.001', qtyStep: '0.001', postOnlyMaxOrderQty: '1190.000', minNotionalValue: '5' },
          unifiedMarginTrade: true,
          fundingInterval: 480,
          settleCoin: i.quote,
          copyTrading: 'both',
          upperFundingRate: '0.00375',
          lowerFundingRate: '-0.00375',
        }));
  return bybitEnvelope({ category, list }, now);
}

function bybitTickers(query: URLSearchParams, instruments: readonly MockInstrument[], now: number): unknown {
  const category = query.get('category') ?? 'linear';
  const wanted = query.get('symbol');
  const list =
    category !== 'linear'
      ? []
      : instruments
          .filter((i) => wanted === null || wanted === i.base + i.quote)
          .map((i) => ({
            symbol: i.base + i.quote,
            lastPrice: px(i.last),
            indexPrice: px(i.last * 1.0001),
            markPrice: px(i.last),
            prevPrice24h: px(i.last * 0.99),
            price24hPcnt: '0.010000',
            highPrice24h: px(i.last * 1.02),
            lowPrice24h: px(i.last * 0.97),
            prevPrice1h: px(i.last * 0.999),
            openInterest: '48069.549',
            openInterestValue: px(i.last * 48069.549),
            turnover24h: px(i.last * 243730.252),
            volume24h: '243730.252',
            fundingRate: i.fundingRate.toFixed(6),
            nextFundingTime: String(i.nextFundingTime),
            predictedDeliveryPrice: '',
            basisRate: '',
            deliveryFeeRate: '',
            deliveryTime: '0',
            ask1Size: '1.5',
            bid1Price: px(i.last - 0.1),
            ask1Price: px(i.last + 0.1),
            bid1Size: '2.5',
            basis: '',
          }));
  return bybitEnvelope({ category, list }, now);
}

/** bybit v5: https://api.bybit.com/v5/market/… */
export const bybit: VenueRoute = (path, query, instruments, now) => {
  switch (path) {
    case '/v5/market/instruments-info':
      return bybitInstruments(query, instruments, now);
    case '/v5/market/tickers':
      return bybitTickers(query, instruments, now);
    case '/v5/market/time':
      return bybitEnvelope({ timeSecond: String(Math.floor(now / 1000)), timeNano: String(now * 1_000_000) }, now);
    default:
      return undefined;
  }
};

/** Error bodies each venue sends with a given HTTP status (what its handleErrors reads). */
export function errorBody(venue: 'binanceusdm' | 'bybit', status: number, now: number): string {
  if (venue === 'binanceusdm') {
    if (status === 429) return JSON.stringify({ code: -1003, msg: 'Too many requests; current limit is 2400 request weight per 1 MINUTE.' });
    if (status === 418) return JSON.stringify({ code: -1003, msg: `Way too many requests; IP banned until ${now + 60_000}.` });
    // binance answers 500 itself (code -1001); 502-504 come from its gateway as HTML.
    if (status === 500) return JSON.stringify({ code: -1001, msg: 'Internal error; unable to process your request. Please try again.' });
    if (status > 500) return `<html><head><title>${status} Service Unavailable</title></head><body></body></html>`;
    return JSON.stringify({ code: -1000, msg: 'An unknown error occured while processing the request.' });
  }
  if (status === 429 || status === 418) return JSON.stringify({ retCode: 10006, retMsg: 'Too many visits!', result: {}, retExtInfo: {}, time: now });
  if (status >= 500) return '<html><head><title>503 Service Temporarily Unavailable</title></head><body></body></html>';
  return JSON.stringify({ retCode: 10001, retMsg: 'params error', result: {}, retExtInfo: {}, time: now });
}

export const VENUES = { binanceusdm, bybit } as const;
export type VenueId = keyof typeof VENUES;
