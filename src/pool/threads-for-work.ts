import { statSync } from 'node:fs';
import { GLOB_SYNTAX } from '../config/glob-syntax.js';

/** What decides how many parse threads a pool starts. */
export interface WorkShape {
  readonly once: boolean;
  readonly workers: number;
  readonly rangeBytes: number;
  readonly input: readonly string[];
}

/**
 * A `--once` run over at most this many bytes (and at most one range) starts
 * no parse thread: the main thread parses it in the live lane's parser, as
 * fast as one thread would (nothing runs beside it), without the thread's V8
 * isolate (about 10 MiB) and its start-up on the critical path. A range the
 * lane cannot take (a JSON document) still gets a thread, made when needed.
 */
export const MAIN_THREAD_ONCE_MAX_BYTES = 1 << 20;

/**
 * Parse threads to start: follow mode keeps every configured one for the
 * live path (growth must not wait for a thread to boot). A `--once` run's work
 * is what exists at start-up, so it gets one thread per range of it, up to
 * `workers` (none for a small one: see MAIN_THREAD_ONCE_MAX_BYTES), and every thread is a V8
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
  if (bytes <= Math.min(MAIN_THREAD_ONCE_MAX_BYTES, work.rangeBytes)) return 0;
  return Math.min(work.workers, Math.ceil(bytes / work.rangeBytes));
}
