/*
 * stop() and a transactional sink whose database is away: the final commit
 * would wait for it for ever (a commit retries until it lands). Abandoning
 * it is safe, since the offsets live in the database and a restart reads
 * the abandoned records again, so stop() waits SINK_STOP_GRACE_MS, and then
 * abandons as soon as the sink reports the database unreachable. A database
 * that is reachable but slow is waited for: its commit is making progress.
 */
import type { TransactionalSink } from '../sinks/transactional.js';

/** Below the CLI's 5 s shutdown deadline, so the CLI's own exit line is the sink's, not the deadline's. */
export const SINK_STOP_GRACE_MS = 3000;
const POLL_MS = 250;

/** Watch `sink` while the engine stops; `onAbandoned` gets the failure once it gave up. Returns the cancel function. */
export function boundSinkStop(sink: TransactionalSink, onAbandoned: (failure: Error) => void, graceMs = SINK_STOP_GRACE_MS): () => void {
  let poll: NodeJS.Timeout | undefined;
  const check = (): void => {
    const why = sink.notReadyReason();
    if (why === undefined) return;
    clearInterval(poll);
    const failure = sink.abandon(why);
    if (failure) onAbandoned(failure);
  };
  const grace = setTimeout(() => {
    poll = setInterval(check, POLL_MS);
    check();
  }, graceMs);
  return () => {
    clearTimeout(grace);
    clearInterval(poll);
  };
}
