/*
 * A follower's first seconds: V8 gives a function a feedback vector only
 * once it has run a budget of bytecodes, and optimizes it only after type
 * feedback has built up there, so the code a live record runs through (the
 * live lane, dedup, the sink) is still cold for the first records, and they
 * wait on it. From here on, every function compiled gets its feedback vector
 * on its first call, and is optimized sooner (bench/RESULTS.md, 2026-12-04,
 * "a follower's first seconds").
 *
 * After start-up, not before: start-up compiles many functions that run once,
 * and eager feedback for them cost a one-record `--once` run 8 % of its time
 * to first record. The CLI owns its process; the library leaves its host's
 * V8 flags alone.
 */
import { setFlagsFromString } from 'node:v8';

export function eagerFeedbackFromHereOn(): void {
  setFlagsFromString('--no-lazy-feedback-allocation');
}
