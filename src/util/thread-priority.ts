/*
 * A worker thread that must yield the CPU to the engine's main thread lowers
 * its own priority. On Linux, setpriority() on "process 0" applies to the
 * calling thread only, so only that thread steps down; raising one's own nice
 * value needs no privilege. The step is relative to the nice value the thread
 * was born with (the process's, e.g. under `nice -n 5`): an absolute value
 * would be no step down there, or an attempt to step up, which is refused.
 */
import { getPriority, setPriority } from 'node:os';

const MAX_NICE = 19;

/** Lower the calling thread by `levels` nice levels (at most to 19); false when not permitted here. */
export function stepDownThisThread(levels: number): boolean {
  try {
    setPriority(Math.min(MAX_NICE, getPriority() + levels));
    return true;
  } catch {
    return false;
  }
}
