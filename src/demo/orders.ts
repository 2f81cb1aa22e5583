/**
 * Synthetic order records shaped like a crypto exchange's order log (~300 B),
 * shared by the demo, the tests and the benchmarks. Deterministic per seed.
 */
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'DOGE/USDT', 'BNB/USDT'];
const STATUSES = ['new', 'partially_filled', 'filled', 'canceled'];

export { prng } from '../util/prng.js';

export interface OrderFields {
  id: string;
  timestamp: number;
  seq: number;
}

/** One order as a JSON line (no newline). `extra` fields are appended verbatim. */
export function orderLine(o: OrderFields, rand: () => number, extra = ''): string {
  const symbol = SYMBOLS[Math.floor(rand() * SYMBOLS.length)]!;
  const side = rand() < 0.5 ? 'buy' : 'sell';
  const price = (1000 + rand() * 60000).toFixed(2);
  const qty = (rand() * 5).toFixed(4);
  const status = STATUSES[Math.floor(rand() * STATUSES.length)]!;
  return (
    `{"id":"${o.id}","clientOrderId":"c-${o.seq.toString(36)}-${Math.floor(rand() * 1e9)}",` +
    `"timestamp":${o.timestamp},"datetime":"${new Date(o.timestamp).toISOString()}",` +
    `"symbol":"${symbol}","type":"limit","side":"${side}","price":${price},"amount":${qty},` +
    `"filled":0,"status":"${status}","fee":{"currency":"USDT","cost":0.0${Math.floor(rand() * 100)}},` +
    `"info":{"venue":"sim","seq":${o.seq}}${extra}}`
  );
}
