/*
 * A follower's heap at `ready` still holds what start-up allocated (modules,
 * closures, options) in the young generation. Under load, the first scavenge
 * then copied all of it while the first live records waited (17.5 ms at
 * 300k records/s, a mark-compact 15 ms later; bench/RESULTS.md, 2026-12-04,
 * "the first scavenge under load"). One full collection before `ready`, while
 * nothing waits, moves it out of the way: that scavenge took 0.26 ms after it.
 *
 * `gc` exists only in contexts made after --expose-gc is set, hence the new
 * context. The CLI owns its process; the library leaves its host's heap alone.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function collectStartupGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  if (typeof gc === 'function') (gc as () => void)();
}
