/*
 * Event times that make the dedup window mean something else than the user
 * set. A number is read as epoch milliseconds: a field holding epoch seconds
 * turns a 60 s window into 60,000 s (an order id reused an hour later is
 * dropped as a copy), microseconds into 60 ms (copies a second apart pass).
 * A value that is not a time at all falls back to the arrival time, so a copy
 * arriving later than the window passes. Both are counted or harmless per
 * record, but silent as a whole: each kind is said once per run, with the
 * record where it was first seen.
 */

/** Units an epoch-ms reading suggests; undefined when it is a plausible ms time (1973 … 5138) or too small to tell. */
export type SuspectUnit = 'seconds' | 'microseconds' | 'nanoseconds';

/**
 * Epoch seconds since 2001 are 1e9 … 1e11 (as ms: January 1970 to 1973);
 * microseconds since 1973 are ≥ 1e14 (as ms: after the year 5138); nanoseconds
 * since 1973 ≥ 1e17. Values below 1e9 (synthetic sequence numbers, tests) are
 * not guessed at.
 */
export function suspectUnitOf(ms: number): SuspectUnit | undefined {
  const a = Math.abs(ms);
  if (a >= 1e9 && a < 1e11) return 'seconds';
  if (a >= 1e17) return 'nanoseconds';
  if (a >= 1e14) return 'microseconds';
  return undefined;
}

const SECONDS_PER: Record<SuspectUnit, number> = { seconds: 1, microseconds: 1e-6, nanoseconds: 1e-9 };

/** Largest |ms| a Date holds. */
const MAX_DATE_MS = 8.64e15;

export interface EventTimeDoubt {
  kind: 'invalid' | SuspectUnit;
  file: string;
  offset: number;
  /** The record's text (at most 64 KiB of it). */
  record: string;
  /** The time read, as epoch ms (units doubts). */
  ms: number;
}

/** The field's value in the record, as JSON text (≤ 80 characters), or why it cannot be shown. */
function valueText(record: string, field: string): string {
  try {
    const parsed: unknown = JSON.parse(record);
    if (parsed === null || typeof parsed !== 'object') return 'value not shown';
    const text = JSON.stringify((parsed as Record<string, unknown>)[field]) ?? 'undefined';
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return 'value not shown: the record is longer than 64 KiB';
  }
}

function durationText(seconds: number): string {
  if (seconds >= 3600) return `${Number((seconds / 3600).toPrecision(3))} h`;
  if (seconds >= 1) return `${Number(seconds.toPrecision(3))} s`;
  return `${Number((seconds * 1000).toPrecision(3))} ms`;
}

/** One warning line for a doubt (`ORDERTAIL_EVENT_TIME_INVALID` or `ORDERTAIL_EVENT_TIME_UNITS`). */
export function eventTimeWarning(doubt: EventTimeDoubt, field: string, windowMs: number): string {
  const where = `${doubt.file} offset ${doubt.offset}`;
  if (doubt.kind === 'invalid') {
    return (
      `event time '${field}' of the record at ${where} is neither epoch ms nor ISO-8601 (${valueText(doubt.record, field)}): ` +
      `its arrival time stands in for it, so a copy arriving more than the dedup window (${windowMs} ms) later is emitted again. ` +
      'Further ones are counted (stats().eventTimeInvalid, ordertail_event_time_invalid_total), not logged'
    );
  }
  const asDate = Math.abs(doubt.ms) <= MAX_DATE_MS ? ` (${new Date(doubt.ms).toISOString()} as ms)` : '';
  return (
    `event times look like epoch ${doubt.kind}, not milliseconds: '${field}' is ${doubt.ms} at ${where}${asDate}. ` +
    `Numbers are read as epoch ms, so the dedup window (${windowMs} ms) spans ${durationText(windowMs * SECONDS_PER[doubt.kind])} of these times; ` +
    'write event times as epoch ms or ISO-8601'
  );
}
