/*
 * Rejected records in the log. With a dead-letter file, each is kept there
 * and logged at debug. Without one, a rejected record would be only a count:
 * the first REJECTS_SHOWN are logged at warn with where they are (file,
 * offset) and why, enough to find and fix them, and after that at most one
 * line a minute says how many more, by reason.
 */
import type { Logger } from './logger.js';

/** Rejected records logged one by one when no dead-letter file keeps them. */
const REJECTS_SHOWN = 10;
const SUMMARY_EVERY_MS = 60_000;

export interface RejectedAt {
  file: string;
  offset: number;
  reason: string;
}

/** A 'rejected' listener for `logger`; `deadLetter`: whether a dead-letter file keeps them (read at each record: a reload may change it). */
export function rejectsLogger(logger: Logger, deadLetter: () => boolean, now: () => number = Date.now): (rejected: RejectedAt) => void {
  let shown = 0;
  let lastSummaryAt = 0;
  const notShown = new Map<string, number>();
  let notShownCount = 0;
  return (r) => {
    if (deadLetter()) {
      logger.debug({ file: r.file, offset: r.offset, reason: r.reason }, 'record rejected');
      return;
    }
    if (shown < REJECTS_SHOWN) {
      shown++;
      const last = shown === REJECTS_SHOWN ? '; further ones are counted (stats, /metrics) and summed up here at most once a minute' : '';
      logger.warn(
        { code: 'ORDERTAIL_RECORD_REJECTED', file: r.file, offset: r.offset, reason: r.reason },
        `record rejected (${r.reason}) at ${r.file} offset ${r.offset}; no --dead-letter file keeps it${last}`,
      );
      lastSummaryAt = now();
      return;
    }
    notShown.set(r.reason, (notShown.get(r.reason) ?? 0) + 1);
    notShownCount++;
    if (now() - lastSummaryAt < SUMMARY_EVERY_MS) return;
    const reasons = [...notShown].map(([reason, n]) => `${reason} ${n}`).join(', ');
    logger.warn(
      { code: 'ORDERTAIL_RECORD_REJECTED', notShown: Object.fromEntries(notShown) },
      `${notShownCount} more record(s) rejected (${reasons}) since the last line; no --dead-letter file keeps them`,
    );
    notShown.clear();
    notShownCount = 0;
    lastSummaryAt = now();
  };
}
