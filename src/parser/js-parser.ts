/**
 * The pure-JS implementation of the parser contract (contract.ts). It is the
 * reference the native parsers are compared against byte for byte, and the
 * fallback when no native parser loads.
 */
import { Framing, SLOT_WORDS, STATE_SLOTS, compileParseConfig } from './contract.js';
import type { ChunkParser, ChunkRequest, ParseConfig } from './contract.js';
import { parseArray, parseLines, parseSingle } from './js/framing.js';
import { RecordClassifier } from './js/record.js';

export { hashKeyBytes } from './js/key-hash.js';
export { SKIP_START, skipArrayElement, skipResumeState } from './js/array-skip.js';

/** A JS parser bound to one configuration (compiled once per worker). */
export function createJsParser(config: ParseConfig): ChunkParser {
  const rec = new RecordClassifier(config);
  return {
    name: 'js',
    parseChunk(req: ChunkRequest, out: Int32Array, state: Float64Array): void {
      const input = req.input;
      if (!(Number.isInteger(req.start) && Number.isInteger(req.end) && req.start >= 0 && req.start <= req.end && req.end <= input.length)) {
        throw new RangeError(`parseChunk: need 0 <= start <= end <= input.length, got start=${req.start} end=${req.end} length=${input.length}`);
      }
      // Callers often pass positions read back from the Float64 state array;
      // `| 0` turns them into small integers so the scanners' position
      // arithmetic stays int32 instead of being re-optimised for doubles.
      const start = req.start | 0;
      const end = req.end | 0;
      rec.setInput(input, end);
      const cap = (out.length / SLOT_WORDS) | 0;
      let n: number;
      if (req.framing === Framing.Lines) n = parseLines(rec, start, end, req.final, out, cap, state);
      else if (req.framing === Framing.Single) n = parseSingle(rec, start, end, req.final, out, cap, state);
      else if (req.framing === Framing.Array) n = parseArray(rec, start, end, req.final, req.carryPhase | 0, out, cap, state);
      else throw new RangeError(`parseChunk: unknown framing ${String(req.framing)}`);
      state[STATE_SLOTS] = n;
    },
  };
}

/**
 * Configuration of the ready-made `jsParser`: key `id`, event time
 * `timestamp`, records up to 1 MiB. Workers build their own with createJsParser.
 */
export const defaultParseConfig: ParseConfig = compileParseConfig({
  keyFields: ['id'],
  eventTimeField: 'timestamp',
  maxRecordBytes: 1 << 20,
});

export const jsParser: ChunkParser = createJsParser(defaultParseConfig);
