import { statSync } from 'node:fs';
import { GLOB_SYNTAX } from '../sources/input-check.js';

/** What decides how many parse threads a pool starts. */
export interface WorkShape {
  readonly once: boolean;
  readonly workers: number;
  readonly rangeBytes: number;
  readonly input: readonly string[];
}

/**
 * Parse threads to start: follow mode keeps every configured one for the
 * live path (growth must not wait for a thread to boot). A `--once` run's work
 * is what exists at start-up, so it gets one thread per range of it, up to
 * `workers`: a one-line file needs one thread, and every thread is a V8
 * isolate whose memory and start-up CPU are paid whether it parses or not
 * (its start-up competes with the main thread for the cores). Only plain
 * paths are measured; a glob may match anything, so it gets every thread.
 * Deterministic for the same options and files, so the CLI's prewarmed pool
 * and the engine's agree on it.
 */
export function threadsForWork(work: WorkShape): number {
  if (!work.once || work.input.some((p) => GLOB_SYNTAX.test(p))) return work.workers;
  let bytes = 0;
  for (const path of work.input) {
    try {
      bytes += statSync(path).size;
    } catch {
      // Unreadable or missing: reading it reports the problem; it is no work for a thread.
    }
  }
  return Math.max(1, Math.min(work.workers, Math.ceil(bytes / work.rangeBytes)));
}
