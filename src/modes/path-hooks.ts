/*
 * What a pipeline needs to know when it is one of hybrid mode's two paths:
 * which one it is, the lock the two take turns under, and where it reports
 * what it emitted (comparison.ts).
 */
import type { PathComparison } from './comparison.js';
import type { EmitLock } from './emit-lock.js';

export interface PathHooks {
  /** live: the realtime pipeline (checkpointed); batch: closed files read whole, not checkpointed (a restart reads them again, all duplicates). */
  readonly role: 'live' | 'batch';
  readonly lock: EmitLock;
  readonly comparison: PathComparison;
}
