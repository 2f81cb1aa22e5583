import { readFileSync } from 'node:fs';

/** utime + stime of a process, seconds (Linux /proc; NaN elsewhere or once it is gone). */
export function processCpuSeconds(pid: number | undefined): number {
  try {
    // After the command name: state is field 3 of the line, utime and stime fields 14 and 15, in clock ticks (100 a second here).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
