/**
 * Event time: JSON numbers and the contract's ISO-8601 subset become epoch
 * ms; anything else sets EVENT_TIME_INVALID. Expected values come from
 * Date.UTC / Date.parse, not from the parser's own arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { Framing, Status, StatusFlag, STATUS_CODE_MASK } from '../dist/src/parser/contract.js';
import { config, parseAll, parserFactories } from './helpers/parsers.js';

const factories = await parserFactories();

const VALID: [string, number][] = [
  ['1700000000000', 1700000000000],
  ['-1500', -1500],
  ['1.5e3', 1500],
  ['0.1', 0.1],
  ['123456789012345678', 123456789012345678],
  ['1E2', 100],
  ['"2024-01-02"', Date.UTC(2024, 0, 2)],
  ['"2024-01-02T03:04:05Z"', Date.UTC(2024, 0, 2, 3, 4, 5)],
  ['"2024-01-02T03:04:05.678Z"', Date.UTC(2024, 0, 2, 3, 4, 5, 678)],
  ['"2024-01-02T03:04:05.6789999z"', Date.UTC(2024, 0, 2, 3, 4, 5, 678)],
  ['"2024-01-02T03:04:05.6Z"', Date.UTC(2024, 0, 2, 3, 4, 5, 600)],
  ['"2024-01-02t03:04:05"', Date.UTC(2024, 0, 2, 3, 4, 5)],
  ['"2024-01-02 03:04"', Date.UTC(2024, 0, 2, 3, 4)],
  ['"2024-01-02T03:04+01:00"', Date.UTC(2024, 0, 2, 2, 4)],
  ['"2024-01-02T03:04:05-0130"', Date.UTC(2024, 0, 2, 4, 34, 5)],
  ['"2024-01-02T03:04:05+05"', Date.UTC(2024, 0, 1, 22, 4, 5)],
  ['"2024-01-02T03:04:05.250-00:00"', Date.UTC(2024, 0, 2, 3, 4, 5, 250)],
  ['"2024-02-29"', Date.UTC(2024, 1, 29)],
  ['"2000-02-29T23:59:59.999Z"', Date.UTC(2000, 1, 29, 23, 59, 59, 999)],
  ['"1969-12-31T23:59:59.9999Z"', -1],
  ['"0000-03-01"', Date.parse('0000-03-01T00:00:00Z')],
  ['"0000-02-29"', Date.parse('0000-02-29T00:00:00Z')],
  ['"9999-12-31T23:59:59.999+23:59"', Date.parse('9999-12-31T00:00:59.999Z')],
];

const INVALID = [
  '1e400',
  '-1e400',
  'true',
  'null',
  '{"t":1}',
  '[1]',
  '"1700000000000"',
  '""',
  '"2024-02-30"',
  '"2023-02-29"',
  '"1900-02-29"',
  '"2024-13-01"',
  '"2024-00-10"',
  '"2024-01-00"',
  '"2024-01-02T24:00Z"',
  '"2024-01-02T03:60Z"',
  '"2024-01-02T03:04:60Z"',
  '"2024-01-02T03:04:05."',
  '"2024-01-02T03:04.5"',
  '"2024-01-02T03:04:05+2400"',
  '"2024-01-02T03:04:05+01:60"',
  '"2024-01-02T03:04:05+1"',
  '"2024-01-02T03:04:05+01:0"',
  '"2024-01-02T03:04:05ZZ"',
  '"2024-01-02Z"',
  '"2024-01-02T03"',
  '"2024-01-02T3:04"',
  '"2024-1-02"',
  '"24-01-02"',
  '" 2024-01-02"',
  '"2024-01-02 "',
  '"2024-01-02T03:04:05\\u005A"',
  '"2024\\u002d01-02"',
  '"2024/01/02"',
  '"2024-01-02_03:04"',
];

describe.each(factories.map((f) => [f.name, f] as const))('%s parser, event time', (_n, factory) => {
  const parser = factory.create(config(['id'], 'ts'));
  const slot = (text: string) => {
    const { slots } = parseAll(parser, Buffer.from(text), Framing.Lines);
    expect(slots).toHaveLength(1);
    return slots[0]!;
  };

  it.each(VALID)('ts %s', (value, expected) => {
    const s = slot(`{"id":1,"ts":${value}}`);
    expect(s.status).toBe(Status.KEYED);
    expect(s.eventTime).toBe(expected);
  });

  it.each(INVALID.map((v) => [v]))('ts %s is invalid', (value) => {
    const s = slot(`{"ts":${value},"id":1}`);
    expect(s.status).toBe(Status.KEYED | StatusFlag.EVENT_TIME_INVALID);
    expect(s.eventTime).toBeNaN();
  });

  it('stores -0 as +0', () => {
    expect(Object.is(slot('{"ts":-0}').eventTime, 0)).toBe(true);
    expect(Object.is(slot('{"ts":-0.0e5}').eventTime, 0)).toBe(true);
  });

  it('is NaN without a flag when missing or nested', () => {
    for (const t of ['{"id":1}', '{"a":{"ts":5}}', '{"\\u0074s":5}']) {
      const s = slot(t);
      expect(s.status & ~STATUS_CODE_MASK).toBe(0);
      expect(s.eventTime).toBeNaN();
    }
  });

  it('uses the last duplicate member', () => {
    expect(slot('{"ts":"bad","ts":42}').eventTime).toBe(42);
    expect(slot('{"ts":42,"ts":"bad"}').status).toBe(Status.UNKEYED | StatusFlag.EVENT_TIME_INVALID);
  });

  it('can be a key field too', () => {
    const both = factory.create(config(['ts'], 'ts'));
    const s = parseAll(both, Buffer.from('{"ts":7}'), Framing.Lines).slots[0]!;
    expect(s.status).toBe(Status.KEYED);
    expect(s.eventTime).toBe(7);
  });
});
