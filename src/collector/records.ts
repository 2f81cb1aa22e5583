/**
 * Record shaping: ccxt's unified ticker / funding-rate structure, minus `info`
 * (the raw exchange payload: not unified, and larger than all the rest:
 * measured by hand, figures in bench/RESULTS.md), plus
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
 * fingerprint  16 hex digits: a 64-bit hash (two 32-bit lanes) of the change
 *              fields' values (CHANGE_FIELDS). Not cryptographic: a collision
 *              matters only between two states of one symbol stamped with the
 *              same observedAt.
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

/**
 * The change fields' values as one string (unit-separated): compared exactly
 * for change detection, hashed only for records that are written. Cheaper
 * than hashing every record of every answer, most of which are unchanged.
 */
export function changeKey(entry: UnifiedEntry, fields: readonly string[]): string {
  let key = '';
  for (let i = 0; i < fields.length; i++) {
    const v = entry[fields[i]!];
    key += (v === undefined || v === null ? '' : String(v)) + '\x1f';
  }
  return key;
}

/** 64-bit hash of a string as 16 hex digits: two 32-bit multiply-xor lanes with a final avalanche (cyrb53-style). */
export function fingerprint(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
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
