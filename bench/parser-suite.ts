/**
 * Parser throughput per record shape: every parser implementation against a
 * JSON.parse-per-line baseline in the same run, over identical NDJSON bytes.
 * `node --expose-gc dist/bench/parser-suite.js [MiB per shape]` (--expose-gc optional)
 *
 * More parsers join by pushing onto SUITE_PARSERS (or passing a list to
 * runParserSuite); each is driven through the contract's parseChunk loop.
 */
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { Framing, SLOT_WORDS, STATE_CONSUMED_END, STATE_SLOTS, STATE_WORDS, compileParseConfig } from '../src/parser/contract.js';
import type { ChunkParser, ParseConfig } from '../src/parser/contract.js';
import { createNativeParser, loadNativeAddon } from '../src/parser/native.js';
import { createSimdjsonParser, loadSimdjson } from '../src/parser/simdjson-parser.js';
import { createJsParser } from '../src/parser/js-parser.js';
import { SHAPES } from './shapes.js';
import type { Shape } from './shapes.js';

export interface SuiteParser {
  readonly name: string;
  /** Parses every record of an NDJSON buffer; returns the record count (so work cannot be optimised away). */
  run(input: Buffer): number;
}

export const BENCH_CONFIG: ParseConfig = compileParseConfig({
  keyFields: ['id'],
  eventTimeField: 'timestamp',
  maxRecordBytes: 1 << 20,
});

const BATCH_SLOTS = 4096;

/** Drives a ChunkParser over a whole buffer as a worker would: Lines framing, batches of slots. */
export function chunkParserDriver(parser: ChunkParser): SuiteParser {
  const out = new Int32Array(BATCH_SLOTS * SLOT_WORDS);
  const state = new Float64Array(STATE_WORDS);
  return {
    name: parser.name,
    run(input) {
      let pos = 0;
      let records = 0;
      while (pos < input.length) {
        parser.parseChunk({ input, start: pos, end: input.length, framing: Framing.Lines, final: true, carryPhase: 0 }, out, state);
        records += state[STATE_SLOTS]!;
        pos = state[STATE_CONSUMED_END]!;
      }
      return records;
    },
  };
}

/** The baseline: decode, split on LF, JSON.parse each non-blank line. */
export const jsonParseBaseline: SuiteParser = {
  name: 'JSON.parse',
  run(input) {
    const lines = new TextDecoder().decode(input).split('\n');
    let records = 0;
    for (const line of lines) {
      if (line.length === 0) continue;
      JSON.parse(line);
      records++;
    }
    return records;
  },
};

export const SUITE_PARSERS: SuiteParser[] = [chunkParserDriver(createJsParser(BENCH_CONFIG))];
{
  const native = loadNativeAddon();
  if ('addon' in native) SUITE_PARSERS.push(chunkParserDriver(createNativeParser(native.addon, BENCH_CONFIG)));
  else console.warn(`parser suite: native row skipped (${native.error.message})`);
  if (!(loadSimdjson() instanceof Error)) SUITE_PARSERS.push(chunkParserDriver(createSimdjsonParser(BENCH_CONFIG)));
}

export interface SuiteRow {
  shape: string;
  parser: string;
  /** From the median pass. */
  mbPerSec: number;
  /** From the fastest pass: closer to the code's speed when the machine is shared. */
  bestMbPerSec: number;
  /** mbPerSec / baseline mbPerSec on the same shape. */
  ratio: number;
}

export async function runParserSuite(
  parsers: readonly SuiteParser[] = SUITE_PARSERS,
  shapes: readonly Shape[] = SHAPES,
  bytesPerShape = 32 * 1024 * 1024,
): Promise<SuiteRow[]> {
  const rows: SuiteRow[] = [];
  for (const shape of shapes) {
    const input = shape.generate(bytesPerShape);
    const bench = new Bench({ time: 2000, warmupTime: 1000 });
    const expected = jsonParseBaseline.run(input);
    for (const p of [jsonParseBaseline, ...parsers]) {
      const got = p.run(input);
      if (got !== expected) throw new Error(`${p.name} saw ${got} records on ${shape.name}, JSON.parse ${expected}`);
      // With --expose-gc, start every task on a clean heap so one task's
      // garbage (JSON.parse makes plenty) is not collected on another's clock.
      bench.add(p.name, () => void p.run(input), { beforeAll: () => globalThis.gc?.() });
    }
    await bench.run();
    // Median and fastest pass, not the mean: a shared machine's stalls and GC
    // pauses inflate a few samples, and a throughput figure should not carry them.
    const mbPerSec = (ms: number) => input.length / 1e6 / (ms / 1000);
    let base = 0;
    for (const t of bench.tasks) {
      const r = t.result;
      if (r.state !== 'completed') throw new Error(`${t.name} on ${shape.name}: ${r.state}`);
      const median = mbPerSec(r.latency.p50);
      if (base === 0) base = median;
      rows.push({ shape: shape.name, parser: t.name, mbPerSec: median, bestMbPerSec: mbPerSec(r.latency.min), ratio: median / base });
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const mib = Number(process.argv[2] ?? 32);
  const rows = await runParserSuite(SUITE_PARSERS, SHAPES, mib * 1024 * 1024);
  console.log(`parser throughput, ${mib} MiB per shape, node ${process.version}`);
  console.table(
    rows.map((r) => ({
      shape: r.shape,
      parser: r.parser,
      'MB/s (median)': r.mbPerSec.toFixed(0),
      'MB/s (best)': r.bestMbPerSec.toFixed(0),
      'x JSON.parse': r.ratio.toFixed(2),
    })),
  );
}
