/**
 * Order records a production log may hold, each with a value the PostgreSQL
 * sink's direct rows must write exactly as the database would convert it:
 * escapes, surrogates, a duplicate key, whitespace, numbers at int64's
 * bounds, nested JSON, null, strings where numbers go, a record without a
 * key. Shared by the direct-copy and the row-encoding tests.
 */
export const AWKWARD_BASE = Date.parse('2026-12-03T10:00:00Z');

export function awkwardRecords(base = AWKWARD_BASE): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 600; i++) {
    lines.push(JSON.stringify({ id: `o${i}`, symbol: i % 3 ? 'BTCUSDT' : '東京USDT', side: i % 2 ? 'buy' : 'sell', price: (i * 7.25).toFixed(i % 4), qty: i, timestamp: base + i * 1.0005 }));
  }
  lines.push(
    String.raw`{"id":"e1","symbol":"q\"uo\\te\/s","note":"tab\there nl\nthere cr\rback\\slash \b\f","timestamp":${base}}`,
    String.raw`{"id":"e2","symbol":"\u00e9\u6771\ud83d\ude00","note":"caf\u00E9 😀 ünï","timestamp":${base + 0.0005}}`,
    `{"id":"e3","symbol":"FIRST","price":1.50,"symbol":"LAST","timestamp":${base + 0.0025}}`,
    `  { "id" : "e4" , "price" : 0.000001 , "qty" : -7 , "big" : -9223372036854775808 , "px" : 1.5 , "timestamp" : ${base + 2.5e-4} }  `,
    `{"id":"e5","price":12345678901234567890.123,"big":9223372036854775807,"px":-0.25,"flag":true,"timestamp":-1000.5}`,
    `{"id":"e6","flag":false,"meta":{"z": [1, {"b": "x\\ty"}], "a": null},"placed":"2026-12-03T10:00:00.123456Z","timestamp":${base + 3}}`,
    `{"id":"e7","flag":null,"meta":null,"note":null,"timestamp":${base + 4}}`,
    `{"id":"e8","meta":"just a string","price":"42.5","qty":"12","side":"buy","timestamp":"2026-12-03T10:00:05.1234567Z"}`,
    `{"symbol":"no key here","timestamp":${base + 6}}`,
    `{"id":"e9","note":"","symbol":"","meta":[],"timestamp":${base + 7}}`,
  );
  return lines;
}
