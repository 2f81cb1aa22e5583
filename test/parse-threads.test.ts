import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { ParsePool } from '../dist/src/pool/parse-pool.js';
import { threadsForWork } from '../dist/src/pool/threads-for-work.js';
import { until, workdir } from './helpers/workdir.js';

const rangeBytes = 4096;

/** A one-line file and one of 2.5 ranges, in a fresh directory (removed after each test). */
function inputs(): { dir: string; small: string; large: string } {
  const dir = workdir();
  const small = join(dir, 'one.ndjson');
  writeFileSync(small, '{"id":"a"}\n');
  const large = join(dir, 'large.ndjson');
  writeFileSync(large, '{"id":"b"}\n'.repeat(Math.ceil((2.5 * rangeBytes) / 11)));
  return { dir, small, large };
}

describe('parse threads sized to the work', () => {
  it('--once over a one-line file starts no thread: the main thread parses it', () => {
    const { small } = inputs();
    expect(threadsForWork({ once: true, workers: 4, rangeBytes, input: [small] })).toBe(0);
  });

  it('--once gets a thread per range of its files, up to --workers', () => {
    const { small, large } = inputs();
    expect(threadsForWork({ once: true, workers: 8, rangeBytes, input: [large] })).toBe(3);
    expect(threadsForWork({ once: true, workers: 2, rangeBytes, input: [large, small] })).toBe(2);
  });

  it('a missing input is no work: no thread', () => {
    const { dir } = inputs();
    expect(threadsForWork({ once: true, workers: 4, rangeBytes, input: [join(dir, 'missing.ndjson')] })).toBe(0);
  });

  it('a glob may match anything: every thread', () => {
    const { dir } = inputs();
    expect(threadsForWork({ once: true, workers: 4, rangeBytes, input: [join(dir, '*.ndjson')] })).toBe(4);
  });

  it('follow mode keeps every thread for the live path', () => {
    const { small } = inputs();
    expect(threadsForWork({ once: false, workers: 4, rangeBytes, input: [small] })).toBe(4);
  });

  it('a small --once run parses on the main thread, and a JSON document in it still gets a thread', async () => {
    const { dir, small } = inputs();
    const doc = join(dir, 'doc.json');
    writeFileSync(doc, '[{"id":"x"},{"id":"a"},{"id":"y"}]');
    const run = async (input: string[]): Promise<{ ids: string[]; ready: boolean }> => {
      const engine = new Engine({ input, once: true, workers: 2 });
      const records = engine.records();
      await engine.start();
      // No thread is not "0 of 2 parse workers up".
      const ready = engine.readiness().ok;
      const ids: string[] = [];
      for await (const record of records) ids.push((JSON.parse(record.toString('utf8')) as { id: string }).id);
      return { ids, ready };
    };
    expect(await run([small])).toEqual({ ids: ['a'], ready: true });
    const both = await run([small, doc]);
    expect(both.ids.sort()).toEqual(['a', 'x', 'y']);
  });

  it('a new worker count starts only the threads it adds; shrinking stops whole sets, newest first', async () => {
    const pool = new ParsePool({
      workers: 2,
      keyFields: ['id'],
      eventTimeField: 'timestamp',
      maxRecordBytes: 1 << 20,
      parser: 'js',
      parserShadow: undefined,
      shadowSample: 0,
      canaryParser: undefined,
      follow: true,
      onWorkerError: (error) => {
        throw error;
      },
    });
    // Which threads run: read from the pool's thread sets (private; no public use for thread ids).
    const threadIds = (): number[] =>
      (pool as unknown as { active: { piscina: { threads: { threadId: number }[] } }[] }).active.flatMap((core) => core.piscina.threads.map((t) => t.threadId)).sort((a, b) => a - b);
    try {
      await pool.threadsLoaded;
      const first = threadIds();
      expect(first).toHaveLength(2);
      pool.resize(3);
      await until(() => pool.threadCount === 3, 10_000, 'three threads');
      const grown = threadIds();
      // The two threads that ran before still do: one thread started, not three.
      expect(grown.filter((id) => first.includes(id))).toEqual(first);
      pool.resize(2);
      // The newest set (one thread) stopped: nothing started.
      expect(threadIds()).toEqual(first);
      expect(pool.threadCount).toBe(2);
      pool.resize(1);
      // No whole set to stop: a set of one replaces the set of two once loaded.
      await until(() => pool.threadCount === 1, 10_000, 'one thread');
      const shrunk = threadIds();
      expect(shrunk).toHaveLength(1);
      expect(first).not.toContain(shrunk[0]);
    } finally {
      await pool.close();
    }
  });
});
