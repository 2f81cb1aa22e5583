import type { EngineStats } from '../engine/engine.js';

let last: { at: number; emitted: number; read: number } | undefined;

/** One human line: rates since the previous call, totals, latency percentiles. */
export function formatStatus(s: EngineStats): string {
  const now = performance.now();
  const prev = last ?? { at: now - 1000, emitted: 0, read: 0 };
  const secs = Math.max(0.001, (now - prev.at) / 1000);
  last = { at: now, emitted: s.recordsEmitted, read: s.recordsRead };
  const rate = Math.round((s.recordsRead - prev.read) / secs);
  return (
    `ordertail: ${rate} rec/s read, ${s.recordsEmitted} emitted, ${s.duplicates} duplicates, ` +
    `${s.rejected} rejected, ${s.dedupForgottenInWindow} forgotten in window, latency p50 ${s.latency.p50} ms p99 ${s.latency.p99} ms`
  );
}

/**
 * The line a run ends with (`done` with --once, `stopped` for a follower):
 * every record accounted for, so nothing is lost or let through without a
 * number saying so.
 */
export function formatSummary(s: EngineStats, verb: 'done' | 'stopped' | 'failed' = 'done'): string {
  const reasons = Object.entries(s.rejectedByReason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  return (
    `${verb}: read ${s.recordsRead}, emitted ${s.recordsEmitted}, duplicates ${s.duplicates}, ` +
    `rejected ${s.rejected}${reasons.length ? ` (${reasons.join(', ')})` : ''}, without key ${s.withoutKey}, ` +
    (s.eventTimeInvalid > 0 ? `event time unusable ${s.eventTimeInvalid} (arrival time used), ` : '') +
    (s.paddingBytes > 0 ? `NUL padding ${s.paddingBytes} byte(s) read over, ` : '') +
    `dedup forgotten ${s.dedupForgotten} (${s.dedupForgottenInWindow} inside the window; table ${s.dedup.capacity} keys, ~${s.dedup.entries} held)`
  );
}
