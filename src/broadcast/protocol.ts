/*
 * Frames the server sends, as JSON text. Records are spliced in as the text
 * the engine emitted (or its projection), never parsed and re-serialised.
 *
 *   hello       on connect: stream id, newest seq, the filter in force, limits
 *   subscribed  a subscribe message was taken
 *   records     {"type":"records","records":[{"seq":N,"at":T,"record":{...}}, ...]}
 *               seq ascends; `at` is the emit time (epoch ms)
 *   lagging     the client's queue overflowed: the oldest `dropped` records were dropped
 *   gap         a resume asked for records no longer held (or lost on the way in)
 *   error       a message was refused; the connection stays (until it breaks limits)
 */
import { describeSubscription, type Subscription } from './subscription.js';

/** Close codes: 1013 Try Again Later (too slow), 1008 Policy Violation (rate), 1001 Going Away (shutdown). */
export const CLOSE_SLOW = 1013;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_GOING_AWAY = 1001;

export type ErrorCode = 'bad_json' | 'bad_subscription' | 'binary' | 'rate_limited';

export function helloFrame(stream: string, head: number, oldest: number, s: Subscription, policy: string): string {
  return JSON.stringify({ type: 'hello', stream, seq: head, oldest, filter: describeSubscription(s), policy });
}

export function subscribedFrame(head: number, s: Subscription): string {
  return JSON.stringify({ type: 'subscribed', seq: head, filter: describeSubscription(s) });
}

export function laggingFrame(dropped: number, droppedTotal: number, throughSeq: number): string {
  return JSON.stringify({ type: 'lagging', dropped, droppedTotal, throughSeq, message: `lagging, ${dropped} dropped` });
}

export function gapFrame(after: number, resumedAt: number, missed: number, reason: 'replay' | 'lost' | 'future'): string {
  const why =
    reason === 'future'
      ? `sequence ${after} is newer than this stream's newest (${resumedAt - 1}): a restarted engine numbers from 1 again`
      : reason === 'lost'
        ? `${missed} record(s) before ${resumedAt} were lost before reaching the broadcaster (it was overloaded)`
        : `${missed} record(s) after ${after} are no longer held; resuming at ${resumedAt}`;
  return JSON.stringify({ type: 'gap', after, resumedAt, missed, reason, message: why });
}

export function errorFrame(code: ErrorCode, message: string): string {
  return JSON.stringify({ type: 'error', code, message });
}

/** One record's element of a records frame. */
export function recordEntry(seq: number, at: number, record: string): string {
  return '{"seq":' + seq + ',"at":' + at + ',"record":' + record + '}';
}

export const RECORDS_PREFIX = '{"type":"records","records":[';
export const RECORDS_SUFFIX = ']}';
