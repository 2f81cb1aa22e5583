import { BaseError, NetworkError } from 'ccxt';

/**
 * ccxt's error taxonomy decides what a failure means:
 *
 *   BaseError
 *   ├─ ExchangeError ....... permanent: AuthenticationError, BadRequest ⊃ BadSymbol, NotSupported, …
 *   └─ OperationFailed
 *      ├─ NetworkError ..... TEMPORARY: RequestTimeout, ExchangeNotAvailable ⊃ OnMaintenance,
 *      │                     DDoSProtection, RateLimitExceeded, InvalidNonce
 *      └─ BadResponse ...... permanent (a malformed body does not improve by asking again at once)
 *
 * Only temporary errors are retried within a cycle; everything else (including
 * a plain TypeError from a parser that met a body it did not expect) waits for
 * the next cycle and counts against the breaker.
 */
export type ErrorKind = 'temporary' | 'permanent';

export interface ErrorClass {
  kind: ErrorKind;
  /** ccxt class name (RequestTimeout, BadSymbol, …) or the JS error's name: the `class` metric label. */
  name: string;
}

export function classifyError(err: unknown): ErrorClass {
  if (err instanceof NetworkError) return { kind: 'temporary', name: err.name || 'NetworkError' };
  if (err instanceof BaseError) return { kind: 'permanent', name: err.name || 'BaseError' };
  if (err instanceof Error) return { kind: 'permanent', name: err.name || 'Error' };
  return { kind: 'permanent', name: 'Unknown' };
}

/**
 * The HTTP status of a failed exchange call, when the exchange answered. ccxt
 * keeps it only in the message it builds (`bybit GET https://… 503 Service
 * Unavailable <body>`), so it is read from there; undefined for network errors.
 */
export function httpStatusOf(err: unknown): number | undefined {
  const text = err instanceof Error ? err.message : '';
  const m = /\b(?:GET|POST|PUT|DELETE|PATCH)\s+\S+\s+([1-5]\d\d)\b/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** First line of an error's message, bounded: exchange errors embed whole response bodies. */
export function errorSummary(err: unknown, max = 200): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}
