/**
 * What a client asks for: symbols, record types, fields to keep, and where to
 * resume. Sent as a JSON message ({"type":"subscribe",...}) or in the
 * connection URL's query (?symbols=A,B&types=trade&fields=id,price&lastSeq=41),
 * so a resuming client has its filter from the first frame on.
 */
export interface Subscription {
  /** undefined: any (records without the field too). */
  readonly symbols: ReadonlySet<string> | undefined;
  readonly types: ReadonlySet<string> | undefined;
  /** Top-level fields kept; undefined: the whole record. */
  readonly fields: ReadonlySet<string> | undefined;
  /** Projection cache key: clients with the same fields share one projected text per record. */
  readonly fieldsKey: string;
  /** Whole-filter key: clients in step with the stream and the same filter share one encoded frame. */
  readonly filterKey: string;
}

export interface SubscribeRequest {
  readonly subscription: Subscription;
  /** The last sequence number the client has; undefined: start at the next record. */
  readonly lastSeq: number | undefined;
}

export const EVERYTHING: Subscription = { symbols: undefined, types: undefined, fields: undefined, fieldsKey: '', filterKey: '\u0001\u0001' };

/** A subscription the server refuses; `message` is sent back in an error frame. */
export class SubscriptionError extends Error {
  constructor(
    message: string,
    /** Counted by this reason. */
    readonly reason: 'bad_json' | 'bad_subscription',
  ) {
    super(message);
  }
}

const MAX_ENTRIES = 1024;
const MAX_ENTRY_LENGTH = 256;
const KEYS = new Set(['type', 'symbols', 'types', 'fields', 'lastSeq']);

function list(value: unknown, name: string): ReadonlySet<string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new SubscriptionError(`${name}: expected an array of strings`, 'bad_subscription');
  if (value.length === 0 || value.length > MAX_ENTRIES) throw new SubscriptionError(`${name}: expected 1 to ${MAX_ENTRIES} entries, got ${value.length}`, 'bad_subscription');
  for (const v of value) {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ENTRY_LENGTH) {
      throw new SubscriptionError(`${name}: entries must be strings of 1 to ${MAX_ENTRY_LENGTH} characters`, 'bad_subscription');
    }
  }
  return new Set(value as string[]);
}

function sequence(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new SubscriptionError('lastSeq: expected a non-negative integer', 'bad_subscription');
  return value;
}

function build(symbols: ReadonlySet<string> | undefined, types: ReadonlySet<string> | undefined, fields: ReadonlySet<string> | undefined): Subscription {
  const key = (set: ReadonlySet<string> | undefined): string => (set ? [...set].sort().join('\u0000') : '');
  const fieldsKey = key(fields);
  return { symbols, types, fields, fieldsKey, filterKey: `${key(symbols)}\u0001${key(types)}\u0001${fieldsKey}` };
}

/** A client's message: a subscribe request, or a SubscriptionError saying what is wrong with it. */
export function parseSubscribe(text: string): SubscribeRequest {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw new SubscriptionError('not JSON', 'bad_json');
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) throw new SubscriptionError('expected a JSON object', 'bad_subscription');
  const m = message as Record<string, unknown>;
  if (m.type !== 'subscribe') throw new SubscriptionError(`type: expected 'subscribe'`, 'bad_subscription');
  for (const key of Object.keys(m)) if (!KEYS.has(key)) throw new SubscriptionError(`unknown key '${key}'`, 'bad_subscription');
  return { subscription: build(list(m.symbols, 'symbols'), list(m.types, 'types'), list(m.fields, 'fields')), lastSeq: sequence(m.lastSeq) };
}

/** The subscription in a connection URL's query; everything when it has none. */
export function parseQuery(query: URLSearchParams): SubscribeRequest {
  const split = (name: string): string[] | undefined => {
    const raw = query.get(name);
    return raw === null ? undefined : raw.split(',').map((s) => s.trim());
  };
  const rawSeq = query.get('lastSeq');
  const lastSeq = rawSeq === null ? undefined : /^\d+$/.test(rawSeq) ? Number(rawSeq) : Number.NaN;
  return {
    subscription: build(list(split('symbols'), 'symbols'), list(split('types'), 'types'), list(split('fields'), 'fields')),
    lastSeq: sequence(lastSeq),
  };
}

/** The filter as sent back in acknowledgements. */
export function describeSubscription(s: Subscription): { symbols: string[] | null; types: string[] | null; fields: string[] | null } {
  const arr = (set: ReadonlySet<string> | undefined): string[] | null => (set ? [...set] : null);
  return { symbols: arr(s.symbols), types: arr(s.types), fields: arr(s.fields) };
}

export function isFiltered(s: Subscription): boolean {
  return s.symbols !== undefined || s.types !== undefined || s.fields !== undefined;
}

export function matches(s: Subscription, symbol: string | undefined, type: string | undefined): boolean {
  if (s.symbols && (symbol === undefined || !s.symbols.has(symbol))) return false;
  if (s.types && (type === undefined || !s.types.has(type))) return false;
  return true;
}
