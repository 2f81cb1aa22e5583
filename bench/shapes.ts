/**
 * Deterministic NDJSON inputs for the parser benchmarks, one generator per
 * record shape. Each fills roughly `targetBytes` with LF-terminated records
 * that carry the `id` key and an ISO `timestamp`, like real order logs.
 */
import { prng as rng } from '../src/util/prng.js';

export interface Shape {
  readonly name: string;
  /** Approximate size of one record, for the report. */
  readonly recordBytes: number;
  generate(targetBytes: number): Buffer;
}


function fill(targetBytes: number, record: (i: number) => string): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const line = record(i) + '\n';
    parts.push(line);
    size += Buffer.byteLength(line);
  }
  return Buffer.from(parts.join(''));
}

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

const SYMBOLS = ['BTC-USD', 'ETH-USD', 'SOL-USD', 'AAPL', 'MSFT', 'EUR-USD'];
const STATUSES = ['new', 'partially_filled', 'filled', 'cancelled'];

export const smallOrders: Shape = {
  name: 'small orders',
  recordBytes: 300,
  generate(targetBytes) {
    const r = rng(1);
    const t0 = Date.UTC(2024, 10, 25);
    return fill(targetBytes, (i) =>
      JSON.stringify({
        id: `ord-${String(i).padStart(10, '0')}`,
        clientOrderId: `c-${Math.floor(r() * 2 ** 32).toString(16)}-${Math.floor(r() * 2 ** 32).toString(16)}`,
        symbol: SYMBOLS[i % SYMBOLS.length],
        side: r() < 0.5 ? 'buy' : 'sell',
        price: (10 + r() * 50_000).toFixed(2),
        qty: (r() * 10).toFixed(4),
        timestamp: isoAt(t0 + i * 7),
        status: STATUSES[i % STATUSES.length],
        timeInForce: 'GTC',
        venue: { mic: 'XNAS', account: `acct-${i % 97}`, flags: ['post_only'], fee: 0.0002 },
      }),
    );
  },
};

export const wideRecords: Shape = {
  name: 'wide records',
  recordBytes: 2000,
  generate(targetBytes) {
    const r = rng(2);
    const t0 = Date.UTC(2024, 10, 25);
    return fill(targetBytes, (i) => {
      const o: Record<string, unknown> = { id: i, timestamp: isoAt(t0 + i) };
      for (let f = 0; f < 80; f++) {
        const k = `field_${String(f).padStart(2, '0')}`;
        o[k] = f % 3 === 0 ? Math.floor(r() * 1e9) : f % 3 === 1 ? r() * 1000 : `value-${Math.floor(r() * 1e6)}`;
      }
      return JSON.stringify(o);
    });
  },
};

export const largeStrings: Shape = {
  name: 'large strings',
  recordBytes: 50_000,
  generate(targetBytes) {
    const r = rng(3);
    const t0 = Date.UTC(2024, 10, 25);
    const words = ['order', 'fill', 'cancel', 'amend', 'venue', 'route', 'qty', 'price', 'näive', 'Ω'];
    return fill(targetBytes, (i) => {
      const text: string[] = [];
      let len = 0;
      while (len < 50_000) {
        // Mostly plain ASCII, with the occasional escape and multi-byte character.
        const w = r() < 0.02 ? 'line\n"quoted"' : words[Math.floor(r() * words.length)]!;
        text.push(w);
        len += w.length + 1;
      }
      return JSON.stringify({ id: `doc-${i}`, timestamp: isoAt(t0 + i * 1000), body: text.join(' ') });
    });
  },
};

export const SHAPES: readonly Shape[] = [smallOrders, wideRecords, largeStrings];
