/**
 * Orders for the PostgreSQL benches: 50 symbols with Zipf-like skew (the
 * k-th most traded has a share ∝ 1/k, so the first holds ~22 % of the orders
 * and the last ~0.4 %), as on an exchange where a few pairs dominate. The
 * same table of symbols drives the log writer, the history filled in by SQL
 * and the dashboard's choice of symbol, so every part sees one distribution.
 */
export const SYMBOL_COUNT = 50;
const WHEEL_SIZE = 1000;

export const SYMBOLS: readonly string[] = Array.from({ length: SYMBOL_COUNT }, (_, k) => `SYM${String(k).padStart(2, '0')}USDT`);

/**
 * WHEEL_SIZE slots, symbol k in about WHEEL_SIZE / (k + 1) / H of them:
 * wheel[i % WHEEL_SIZE] (or a random slot) picks a symbol with the skew.
 */
export const SYMBOL_WHEEL: readonly string[] = (() => {
  const h = SYMBOLS.reduce((sum, _, k) => sum + 1 / (k + 1), 0);
  const wheel: string[] = [];
  SYMBOLS.forEach((symbol, k) => {
    const slots = Math.max(1, Math.round(WHEEL_SIZE / (k + 1) / h));
    for (let i = 0; i < slots && wheel.length < WHEEL_SIZE; i++) wheel.push(symbol);
  });
  while (wheel.length < WHEEL_SIZE) wheel.push(SYMBOLS[0]!);
  // Interleaved, so a run of consecutive orders is not one symbol.
  const spread: string[] = new Array<string>(WHEEL_SIZE);
  for (let i = 0; i < WHEEL_SIZE; i++) spread[(i * 617) % WHEEL_SIZE] = wheel[i]!;
  return spread;
})();

/** One order line (no newline). */
export function orderJson(id: string, i: number, timestamp: number, extra?: Record<string, number>): string {
  return JSON.stringify({
    id,
    symbol: SYMBOL_WHEEL[i % WHEEL_SIZE],
    side: i % 2 ? 'buy' : 'sell',
    price: 100 + (i % 997) / 10,
    qty: (i % 13) + 1,
    venue: 'binance',
    timestamp,
    ...extra,
  });
}
