/** The broadcaster's counts, as plain data (they cross from its thread to the engine's). */
export const DISCONNECT_REASONS = ['client', 'slow', 'rate_limit', 'too_large', 'error', 'shutdown'] as const;
export const REFUSE_REASONS = ['token', 'origin', 'capacity', 'path', 'bad_subscription'] as const;
export const BAD_MESSAGE_REASONS = ['bad_json', 'bad_subscription', 'binary', 'rate_limited', 'too_large'] as const;
/** drop-oldest and disconnect: a slow client's queue; overload: batches the broadcaster's thread had no room for. */
export const DROP_POLICIES = ['drop-oldest', 'disconnect', 'overload'] as const;

export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];
export type RefuseReason = (typeof REFUSE_REASONS)[number];
export type BadMessageReason = (typeof BAD_MESSAGE_REASONS)[number];
export type DropPolicy = (typeof DROP_POLICIES)[number];

export interface BroadcastStats {
  clients: number;
  /** Connected clients with a filter (symbols, types or fields). */
  subscriptions: number;
  /** Subscribe requests taken (URL or message). */
  subscribeRequests: number;
  recordsIn: number;
  recordsSent: number;
  framesSent: number;
  bytesSent: number;
  dropped: Record<DropPolicy, number>;
  disconnects: Record<DisconnectReason, number>;
  refused: Record<RefuseReason, number>;
  badMessages: Record<BadMessageReason, number>;
  resumes: { replayed: number; gap: number };
  replay: { records: number; bytes: number; oldest: number; head: number };
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

export function emptyStats(): BroadcastStats {
  return {
    clients: 0,
    subscriptions: 0,
    subscribeRequests: 0,
    recordsIn: 0,
    recordsSent: 0,
    framesSent: 0,
    bytesSent: 0,
    dropped: zeros(DROP_POLICIES),
    disconnects: zeros(DISCONNECT_REASONS),
    refused: zeros(REFUSE_REASONS),
    badMessages: zeros(BAD_MESSAGE_REASONS),
    resumes: { replayed: 0, gap: 0 },
    replay: { records: 0, bytes: 0, oldest: 1, head: 0 },
  };
}
