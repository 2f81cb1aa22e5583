/*
 * Records the dedup stage takes as they are, where the configuration may not
 * say what the user meant. A record without the dedup key passes through: a
 * key field spelt otherwise than in the logs (`orderId` for `order_id`) lets
 * every copy through. A number is read as epoch milliseconds: a field holding
 * epoch seconds turns a 60 s window into 60,000 s (an order id reused an hour
 * later is dropped as a copy), microseconds into 60 ms (copies a second apart
 * pass). A value that is not a time at all falls back to the arrival time, so
 * a copy arriving later than the window passes. Each is counted or harmless
 * per record, but silent as a whole: each kind is said once per run, with the
 * record where it was first seen.
 */
import { closestKey } from '../config/suggest.js';
import type { WarningCode } from './warnings.js';

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

export interface RecordDoubt {
  /**
   * 'no-key': a record without (all of) the dedup key; 'no-time': a keyed record without the event-time
   * field; 'invalid': an event time that is not one; else the units its event time looks like.
   */
  kind: 'no-key' | 'no-time' | 'invalid' | 'not-records' | SuspectUnit;
  file: string;
  offset: number;
  /** The record's text (at most 64 KiB of it). */
  record: string;
  /** The time read, as epoch ms (units doubts). */
  ms: number;
  /** 'not-records': the file's lines rejected so far (all it has read), and their reasons with counts. */
  lines?: number;
  reasons?: string;
}

/** The record's top-level members, or undefined when it was cut at 64 KiB. */
function membersOf(record: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(record);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** The field's value in the record, as JSON text (≤ 80 characters), or why it cannot be shown. */
function valueText(record: string, field: string): string {
  const members = membersOf(record);
  if (members === undefined) return 'value not shown: the record is longer than 64 KiB';
  return clip(JSON.stringify(members[field]) ?? 'undefined', 80);
}

/** Numbers a time in s, ms, µs or ns since 2001 can be, and strings that start as an ISO-8601 date or are such a number. */
const TIME_NUMBER_MIN = 1e9;
const TIME_NUMBER_MAX = 1e19;
const TIME_STRING = /^(\d{4}-\d{2}-\d{2}|\d{10,19}(\.\d+)?$)/;

/** The record's top-level fields whose values look like times (a misnamed --event-time), at most five. */
function timeLikeFields(record: string): string[] {
  const members = membersOf(record);
  if (members === undefined) return [];
  const found: string[] = [];
  for (const [name, value] of Object.entries(members)) {
    const looksLikeTime = typeof value === 'number' ? value >= TIME_NUMBER_MIN && value < TIME_NUMBER_MAX : typeof value === 'string' && TIME_STRING.test(value);
    if (looksLikeTime && found.push(name) === 5) break;
  }
  return found;
}

/** The key fields the record lacks, and its own fields (with the one a missing field may be a misspelling of). */
function keyMissingText(record: string, dedupKey: readonly string[]): string {
  const members = membersOf(record);
  if (members === undefined) return `has no dedup key (${dedupKey.join(', ')})`;
  const fields = Object.keys(members);
  const missing = dedupKey.filter((f) => !(f in members));
  // A short name is a letter away from many others ('id', 'pid'): guessed only when it is the same name spelt otherwise.
  const spelling = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');
  const guesses = missing
    .map((f) => [f, closestKey(f, fields)] as const)
    .filter(([f, close]) => close !== undefined && (f.length >= 5 || spelling(f) === spelling(close)));
  const meant = guesses.map(([f, close]) => ` (did you mean '${close}' for '${f}'?)`).join('');
  return `has no ${missing.map((f) => `'${f}'`).join(', ')} (dedup key ${dedupKey.join(', ')}); its fields: ${clip(fields.join(', '), 200)}${meant}`;
}

export interface DoubtContext {
  dedupKey: readonly string[];
  eventTime: string;
  dedupWindowMs: number;
}

function durationText(seconds: number): string {
  if (seconds >= 3600) return `${Number((seconds / 3600).toPrecision(3))} h`;
  if (seconds >= 1) return `${Number(seconds.toPrecision(3))} s`;
  return `${Number((seconds * 1000).toPrecision(3))} ms`;
}

/** How a doubt is said: its line, and its warning code (undefined: an info line, not a warning). */
export interface DoubtLine {
  message: string;
  code: WarningCode | undefined;
}

/** A doubt's log line and code (`ORDERTAIL_DEDUP_KEY_MISSING`, `ORDERTAIL_EVENT_TIME_MISSING`, `ORDERTAIL_EVENT_TIME_INVALID`, `ORDERTAIL_EVENT_TIME_UNITS` or `ORDERTAIL_INPUT_NOT_RECORDS`). */
export function describeDoubt(doubt: RecordDoubt, context: DoubtContext): DoubtLine {
  const where = `${doubt.file} offset ${doubt.offset}`;
  const field = context.eventTime;
  const windowMs = context.dedupWindowMs;
  if (doubt.kind === 'no-time') {
    const timeFields = timeLikeFields(doubt.record);
    const meant = timeFields.length > 0 ? `; fields that hold a time: ${timeFields.join(', ')} (--event-time names the one to use)` : '';
    return {
      message:
        `the record at ${where} has no event time '${field}'${meant}: its arrival time stands in, ` +
        `so a copy arriving more than the dedup window (${windowMs} ms) later (a batch job's, a replay's) is emitted again`,
      // Records that carry no time at all are not a mistake to warn about: said as information.
      code: timeFields.length > 0 ? 'ORDERTAIL_EVENT_TIME_MISSING' : undefined,
    };
  }
  if (doubt.kind === 'no-key') {
    return {
      message:
        `the record at ${where} ${keyMissingText(doubt.record, context.dedupKey)}. ` +
        'Records without the key are emitted undeduplicated; further ones are counted (stats().withoutKey, ordertail_records_without_key_total), not logged',
      code: 'ORDERTAIL_DEDUP_KEY_MISSING',
    };
  }
  if (doubt.kind === 'not-records') {
    // A record written over several lines starts with a line that is a lone '{' (or '[' for an array of them).
    const spread = /^\s*[[{]\s*$/.test(doubt.record)
      ? 'It looks like JSON written over several lines (pretty-printed): records are read one per line (NDJSON), or a file named .json is read as one document. '
      : 'not NDJSON? A binary, compressed or other-format file the input glob matches has every line rejected (counted, dead-lettered): narrow the glob to leave it out. ';
    return {
      message:
        `${doubt.file}: none of its first ${doubt.lines} lines is a JSON record (${doubt.reasons}; the first begins ${JSON.stringify(doubt.record)}): ` +
        spread +
        'Said once per file',
      code: 'ORDERTAIL_INPUT_NOT_RECORDS',
    };
  }
  if (doubt.kind === 'invalid') {
    return {
      message:
        `event time '${field}' of the record at ${where} is neither epoch ms nor ISO-8601 (${valueText(doubt.record, field)}): ` +
        `its arrival time stands in for it, so a copy arriving more than the dedup window (${windowMs} ms) later is emitted again. ` +
        'Further ones are counted (stats().eventTimeInvalid, ordertail_event_time_invalid_total), not logged',
      code: 'ORDERTAIL_EVENT_TIME_INVALID',
    };
  }
  const asDate = Math.abs(doubt.ms) <= MAX_DATE_MS ? ` (${new Date(doubt.ms).toISOString()} as ms)` : '';
  return {
    message:
      `event times look like epoch ${doubt.kind}, not milliseconds: '${field}' is ${doubt.ms} at ${where}${asDate}. ` +
      `Numbers are read as epoch ms, so the dedup window (${windowMs} ms) spans ${durationText(windowMs * SECONDS_PER[doubt.kind])} of these times; ` +
      'write event times as epoch ms or ISO-8601',
    code: 'ORDERTAIL_EVENT_TIME_UNITS',
  };
}
