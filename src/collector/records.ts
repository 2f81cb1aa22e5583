import { hash } from 'node:crypto';

/**
 * Record shaping: ccxt's unified ticker / funding-rate structure, minus `info`
 * (the raw exchange payload: not unified, and 2-3× the size), plus
 *
 *   type         "ticker" | "funding"
 *   exchange     the configured exchange name (the ccxt id unless renamed)
 *   symbol       the unified symbol, e.g. "BTC/USDT:USDT"
 *   collectedAt  epoch ms when this collector received the response
 *   id           the dedup key (below)
 *
 * ## The dedup key: what makes two collector records "the same"
 *
 * Two records are the same when they report the same exchange state: same
 * exchange, type and symbol, the same values of the fields that matter, as of
 * the same moment on the exchange's clock. `collectedAt` is NOT part of it: it
 * is this collector's clock, and two collectors polling the same exchange for
 * high availability (or one collector before and after a restart) see the same
 * state at different collectedAt values — those are the duplicates worth
 * dropping. Values alone are not enough either: a bid that goes A → B → A is
 * three states, and the second A must not be dropped as a repeat of the first.
 *
 *   id = exchange "|" type "|" symbol "|" observedAt "|" fingerprint
 *
 * fingerprint  16 hex digits of SHA-1 over the change fields (CHANGE_FIELDS)
 * observedAt   the exchange's own `timestamp` when it sends one; otherwise the
 *              collectedAt of the first cycle that saw these values (bybit's
 *              tickers carry no time), so a snapshot re-sending unchanged
 *              values keeps the id of the original record.
 *
 * One `id` field (rather than a list of fields) because the engine's dedup key
 * is one setting for every input: order logs key on `id` too.
 */
export type RecordType = 'ticker' | 'funding';

/**
 * The fields that matter for change detection. Timestamps are left out (an
 * exchange restamps unchanged data every second); funding records leave out
 * mark/index prices, which move every second and belong to the ticker stream.
 */
export const CHANGE_FIELDS: Readonly<Record<RecordType, readonly string[]>> = {
  ticker: [
    'last', 'bid', 'ask', 'bidVolume', 'askVolume', 'high', 'low', 'open', 'close', 'previousClose',
    'vwap', 'change', 'percentage', 'average', 'baseVolume', 'quoteVolume', 'markPrice', 'indexPrice',
  ],
  funding: [
    'fundingRate', 'fundingTimestamp', 'nextFundingRate', 'nextFundingTimestamp',
    'previousFundingRate', 'previousFundingTimestamp', 'interestRate', 'interval',
  ],
};

/** A unified ccxt structure as far as we read it: a symbol, an optional timestamp, anything else. */
export interface UnifiedEntry {
  symbol?: string | undefined;
  timestamp?: number | undefined;
  [field: string]: unknown;
}

/** Hash of the change fields: equal fingerprints mean "unchanged". */
export function fingerprint(entry: UnifiedEntry, fields: readonly string[]): string {
  const values: unknown[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) values[i] = entry[fields[i]!] ?? null;
  return hash('sha1', JSON.stringify(values), 'hex').slice(0, 16);
}

export function recordId(exchange: string, type: RecordType, symbol: string, observedAt: number, print: string): string {
  return `${exchange}|${type}|${symbol}|${observedAt}|${print}`;
}

/** The exchange's timestamp when it is a real epoch-ms number. */
export function exchangeTime(entry: UnifiedEntry): number | undefined {
  const t = entry.timestamp;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : undefined;
}

/** One NDJSON line (without the newline): our fields first, then ccxt's. */
export function encodeRecord(type: RecordType, exchange: string, symbol: string, collectedAt: number, id: string, entry: UnifiedEntry): string {
  const out: Record<string, unknown> = { type, exchange, symbol, collectedAt, id };
  for (const key in entry) {
    if (key === 'info' || key === 'symbol' || key in out) continue;
    const value = entry[key];
    if (value !== undefined) out[key] = value;
  }
  return JSON.stringify(out);
}
