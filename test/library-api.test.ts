import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Engine } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';

describe('library API', () => {
  it('records() yields each accepted record as a Buffer, in order, while following', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '{"id":1}\n{"id":1}\n');
    const engine = new Engine({ input: log, workers: 1 });
    const records = engine.records();
    await engine.start();
    const got: string[] = [];
    const rejected: string[] = [];
    engine.on('rejected', (r) => rejected.push(r.reason));
    for await (const record of records) {
      expect(Buffer.isBuffer(record)).toBe(true);
      got.push(record.toString());
      if (got.length === 1) appendFileSync(log, '{"id":2}\nnot json\n{"id":3}\n');
      if (got.length === 3) break;
    }
    expect(got).toEqual(['{"id":1}', '{"id":2}', '{"id":3}']);
    const stats = engine.stats();
    expect(stats).toMatchObject({ recordsRead: 5, recordsEmitted: 3, duplicates: 1, rejected: 1, files: 1 });
    expect(['js', 'native']).toContain(stats.parser);
    expect(rejected).toEqual(['invalid_json']);
    await engine.stop();
    await engine.stop(); // idempotent
  });

  it('stop() drains in-flight work: every record of a large --once run is in the sink', async () => {
    const dir = workdir();
    const lines = Array.from({ length: 50_000 }, (_, i) => `{"id":${i},"pad":"${'p'.repeat(100)}"}`);
    writeFileSync(join(dir, 'big.ndjson'), lines.join('\n') + '\n');
    const engine = new Engine({ input: join(dir, 'big.ndjson'), once: true, workers: 2, rangeBytes: 64 * 1024 });
    const records = engine.records();
    await engine.start();
    let n = 0;
    const consumed = (async () => {
      for await (const _ of records) n++;
    })();
    await engine.finished();
    await engine.stop();
    await consumed;
    expect(n).toBe(50_000);
  });

  it('finished() of a --once run resolves only when the file sink holds every record (before stop())', async () => {
    // Large enough batches go to the sink's background writes; one of them must
    // not still be under way when finished() says the input is out.
    const dir = workdir();
    const records = 20_000;
    const lines = Array.from({ length: records }, (_, i) => `{"id":${i},"pad":"${'p'.repeat(200)}"}`);
    writeFileSync(join(dir, 'in.ndjson'), lines.join('\n') + '\n');
    for (let run = 0; run < 5; run++) {
      const out = join(dir, `out-${run}.ndjson`);
      const engine = new Engine({ input: join(dir, 'in.ndjson'), once: true, workers: 2, sink: `file:${out}` });
      await engine.start();
      await engine.finished();
      const inFile = readFileSync(out).reduce((n, b) => (b === 10 ? n + 1 : n), 0);
      await engine.stop();
      expect(inFile, `run ${run}`).toBe(records);
    }
  });

  it('bad options throw ConfigError naming the key', () => {
    expect(() => new Engine({ input: 'x', dedupWindow: 'soon' })).toThrow(ConfigError);
    expect(() => new Engine({ input: 'x', dedupWindow: 'soon' })).toThrow(/dedupWindow/);
    expect(() => new Engine({ input: 'x', workers: -1 })).toThrow(/workers/);
    expect(() => new Engine({ input: 'x', bogus: 1 } as never)).toThrow(/unknown key 'bogus' \(known: input, /);
  });

  it('a misspelt option key is answered with the key meant, in its own spelling', () => {
    const message = (raw: Record<string, unknown>): string => {
      try {
        new Engine(raw as never);
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(message({ input: 'x', dedupWindw: '5s' })).toMatch(/unknown key 'dedupWindw'; did you mean 'dedupWindow'\?/);
    expect(message({ input: 'x', 'dedup-windw': '5s' })).toMatch(/unknown key 'dedup-windw'; did you mean 'dedup-window'\?/);
    expect(message({ inputs: 'x' })).toMatch(/did you mean 'input'\?/);
    expect(message({ input: 'x', WORKER: 2 })).toMatch(/did you mean 'workers'\?/);
    expect(message({ input: 'x', sinkPageCahce: 'drop' })).toMatch(/did you mean 'sinkPageCache'\?/);
    // Nothing close, or two keys as close: no guess.
    expect(message({ input: 'x', bogus: 1 })).not.toMatch(/did you mean/);
    expect(message({ input: 'x', wsHos: 1 })).toMatch(/did you mean 'wsHost'\?/);
    expect(message({ input: 'x', ws: 1 })).not.toMatch(/did you mean/);
  });
});
