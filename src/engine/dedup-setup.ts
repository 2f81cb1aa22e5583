/*
 * The engine's dedup table: sized for the inputs (or as configured), fresh or
 * restored from a checkpoint, and what the operator is told about its size
 * and, once, when it starts forgetting keys still inside the window.
 */
import type { ResolvedOptions } from '../config/options.js';
import type { CheckpointState } from '../checkpoint/manifest.js';
import type { DedupCheckpoint } from '../checkpoint/dedup-state.js';
import { tableBytes } from '../dedup/layout.js';
import { AUTO_TARGET_LOAD, sizeDedupTable } from '../dedup/sizing.js';
import { DedupTable } from '../dedup/table.js';
import type { WarningCode } from './warnings.js';

export interface DedupSetupEvents {
  info(message: string): void;
  warn(message: string, code: WarningCode): void;
}

export function openDedupTable(
  o: ResolvedOptions,
  inputs: readonly string[],
  restored: CheckpointState | undefined,
  checkpoint: DedupCheckpoint | undefined,
  events: DedupSetupEvents,
): DedupTable {
  const sizing = sizeDedupTable({
    requested: o.dedupCapacity,
    memoryCapBytes: o.dedupMemoryBytes,
    follow: !o.once,
    paths: inputs,
    ...(restored ? { restoredCapacity: restored.dedup.capacity } : {}),
  });
  const mib = (sizing.bytes / 2 ** 20).toFixed(1);
  const basis = sizing.estimatedRecords === undefined
    ? 'dedupCapacity'
    : `auto: ~${sizing.estimatedRecords} records in ${inputs.length} input file(s)${sizing.capped ? `, capped by dedupMemory ${o.dedupMemoryBytes} B` : ''}`;
  events.info(`dedup table: ${sizing.capacity} keys, ${mib} MiB (${basis}); window ${o.dedupWindowMs} ms`);
  if (sizing.capped) events.warn(`dedup table capped at ${mib} MiB by dedupMemory: ~${sizing.estimatedRecords} records at start-up need ${Math.ceil(sizing.estimatedRecords! / AUTO_TARGET_LOAD)} keys; the oldest keys will be forgotten`, 'ORDERTAIL_DEDUP_CAPPED');
  const options = { capacity: sizing.capacity, windowMs: o.dedupWindowMs };
  if (!checkpoint) return DedupTable.create(options);
  if (!restored) return checkpoint.fresh(options);
  return checkpoint.restore(restored, options, (from, to) =>
    events.warn(`dedup capacity changed since the checkpoint (${from} → ${to}): its entries were re-inserted`, 'ORDERTAIL_CHECKPOINT_CAPACITY_CHANGED'),
  );
}

/**
 * Keys still inside the window were replaced: duplicates of them may pass.
 * Said with the size that would have held every `distinctKeys` so far.
 */
export function forgettingWarning(table: DedupTable, forgottenInWindow: number, distinctKeys: number, windowMs: number): string {
  const d = table.stats();
  const needed = Math.ceil(Math.max(distinctKeys, d.entries) / AUTO_TARGET_LOAD);
  return (
    `dedup table full: ${forgottenInWindow} key(s) forgotten while still inside the ${windowMs} ms window, so copies of them may pass ` +
    `(table holds ${d.capacity} keys, ${(d.bytes / 2 ** 20).toFixed(1)} MiB; ~${distinctKeys} distinct keys so far: --dedup-capacity ${needed} (~${(tableBytes(needed) / 2 ** 20).toFixed(0)} MiB) would hold them). Counted in ordertail_dedup_forgotten_in_window_total.`
  );
}
