import { readdirSync, readFileSync } from 'node:fs';

/**
 * Descriptors kept free beyond those open at start-up: sinks, the checkpoint's
 * files, the metrics server's sockets, modules loaded on first use (a module
 * that cannot be opened crashes the process), libuv's own.
 */
const RESERVED = 64;
/** Never fewer input descriptors than this, whatever the limit says. */
const MIN_BUDGET = 8;

export interface DescriptorBudget {
  /** Input descriptors the engine may hold open. */
  max: number;
  /** RLIMIT_NOFILE's soft limit, when it could be read. */
  limit: number | undefined;
  /** Descriptors already open when the budget was set. */
  inUse: number;
}

/** The soft RLIMIT_NOFILE. Node raises it to the hard limit at start-up, as servers do; this reads what that gave. */
function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/**
 * `--max-open-files`, capped so that input files can never take the
 * descriptors the rest of the process needs: opening more than the limit
 * allows fails with EMFILE, which would skip files or crash a module load.
 */
export function descriptorBudget(requested: number): DescriptorBudget {
  const limit = openFilesLimit();
  const inUse = openDescriptors();
  if (limit === undefined || !Number.isFinite(limit)) return { max: requested, limit, inUse };
  return { max: Math.max(MIN_BUDGET, Math.min(requested, limit - inUse - RESERVED)), limit, inUse };
}
