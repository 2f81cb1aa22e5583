/**
 * records() as a service embedding ordertail uses it: how the loop ends (once,
 * stop(), AbortSignal, break, the engine's failure), how fast, what a restart
 * from the checkpoint delivers after leaving early, reuse, and the queue's
 * bounds. Real engines, files and worker threads.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Engine, EngineError, type EngineOptions } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';

function writeRecords(path: string, n: number, line: (i: number) => string = (i) => `{"id":${i}}`): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(line(i));
  writeFileSync(path, lines.join('\n') + '\n');
}

/** `p`, or a rejection after `ms` (so a loop that never ends fails the test instead of hanging it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function engineFor(input: string, extra: Partial<EngineOptions> = {}): Engine {
  return new Engine({ input, workers: 1, ...extra });
}

describe('records(): how the loop ends', () => {
  it('once: the loop ends by itself after the last record; finished() resolves and the finished event fires', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 5000);
    const engine = engineFor(input, { once: true });
    let finishedEvents = 0;
    engine.on('finished', () => finishedEvents++);
    const records = engine.records();
    await engine.start();
    let n = 0;
    await within(
      (async () => {
        for await (const _ of records) n++;
      })(),
      20_000,
      'the records() loop of a once engine',
    );
    expect(n).toBe(5000);
    await within(engine.finished(), 5000, 'finished()');
    expect(finishedEvents).toBe(1);
    await engine.stop();
  });

  it("the engine's fatal error ends the loop by throwing it, and finished() rejects with it", async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    // A rejected record goes to the dead-letter file; /dev/full makes that write fail: a fatal sink error.
    writeRecords(input, 100_000, (i) => (i === 0 ? 'not json' : `{"id":${i}}`));
    const engine = engineFor(input, { once: true, deadLetter: '/dev/full' });
    const records = engine.records();
    await engine.start();
    const loop = (async () => {
      for await (const _ of records) {
        /* consume */
      }
    })();
    const err = await within(loop.then(() => undefined, (e: unknown) => e), 20_000, 'the records() loop after a failure');
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('ORDERTAIL_SINK');
    await expect(within(engine.finished(), 5000, 'finished()')).rejects.toBe(err);
    await within(engine.stop(), 10_000, 'stop() after a failure');
  });

  it('stop() ends the loop of a slow consumer within 100 ms and does not wait for the queued records', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 20_000);
    const engine = engineFor(input);
    const records = engine.records();
    await engine.start();
    let n = 0;
    let stopAt = 0;
    let endedAfterMs = -1;
    const loop = (async () => {
      for await (const _ of records) {
        n++;
        await sleep(50);
      }
      endedAfterMs = performance.now() - stopAt;
    })();
    while (n < 5) await sleep(5);
    stopAt = performance.now();
    const stopped = engine.stop();
    await within(loop, 2000, 'the loop after stop()');
    expect(endedAfterMs).toBeLessThanOrEqual(100);
    await within(stopped, 5000, 'stop() with thousands of records queued');
    expect(n).toBeLessThan(20);
  });

  it('await engine.stop() inside the loop, with ~10k records queued, does not deadlock', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 30_000);
    const engine = engineFor(input);
    const records = engine.records();
    await engine.start();
    let n = 0;
    await within(
      (async () => {
        for await (const _ of records) {
          n++;
          if (n === 1) {
            while ((engine.recordsQueue()?.records ?? 0) < 5000) await sleep(5);
            await engine.stop();
          }
        }
      })(),
      10_000,
      'a loop that awaits stop() in its body',
    );
    expect(n).toBe(1);
  });

  it('a second concurrent stop() resolves only when the first has finished', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 20_000);
    const engine = engineFor(input);
    const records = engine.records();
    await engine.start();
    const iterator = records[Symbol.asyncIterator]();
    await iterator.next();
    let firstDone = false;
    const first = engine.stop().then(() => {
      firstDone = true;
    });
    await engine.stop();
    expect(firstDone).toBe(true);
    await first;
  });

  it('an AbortSignal given to records() ends the loop with an AbortError within 100 ms and stops the engine', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 20_000);
    const engine = engineFor(input);
    const ac = new AbortController();
    const records = engine.records({ signal: ac.signal });
    await engine.start();
    let n = 0;
    let abortAt = 0;
    const loop = (async () => {
      for await (const _ of records) {
        n++;
        await sleep(50);
      }
    })();
    while (n < 3) await sleep(5);
    abortAt = performance.now();
    ac.abort();
    const err = await within(loop.then(() => undefined, (e: unknown) => e), 2000, 'the loop after abort');
    expect(performance.now() - abortAt).toBeLessThanOrEqual(100);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await within(engine.stop(), 5000, 'stop() after abort');
    expect(engine.readiness().reasons).toContain('engine is stopped');
  });

  it("the engine's signal option stops it; a loop waiting for records ends at once with an AbortError", async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 10);
    const ac = new AbortController();
    const engine = engineFor(input, { signal: ac.signal });
    const records = engine.records();
    await engine.start();
    let n = 0;
    const loop = (async () => {
      for await (const _ of records) n++;
    })();
    while (n < 10) await sleep(5);
    // The loop now waits for more (follow mode).
    const abortAt = performance.now();
    ac.abort();
    const err = await within(loop.then(() => undefined, (e: unknown) => e), 2000, 'the loop after the engine was aborted');
    expect(performance.now() - abortAt).toBeLessThanOrEqual(100);
    expect(err).toMatchObject({ name: 'AbortError' });
    await within(engine.stop(), 5000, 'stop() after abort');
  });
  it('an abort while start() is under way stops the engine once start() has built it', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 1000);
    const ac = new AbortController();
    const engine = engineFor(input, { signal: ac.signal });
    const records = engine.records();
    const starting = engine.start();
    ac.abort();
    await starting;
    await within(engine.stop(), 5000, 'stop() after an abort during start()');
    expect(engine.readiness().reasons).toContain('engine is stopped');
    await expect(records.next()).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('records(): one loop per engine', () => {
  it('a second records() call and a second loop over the same iterator are explicit errors', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 100);
    const engine = engineFor(input, { once: true });
    const records = engine.records();
    expect(() => engine.records()).toThrow(expect.objectContaining({ code: 'ORDERTAIL_RECORDS_REUSED' }));
    await engine.start();
    let n = 0;
    for await (const _ of records) n++;
    expect(n).toBe(100);
    let second: unknown;
    try {
      for await (const _ of records) n++;
    } catch (err) {
      second = err;
    }
    expect(second).toMatchObject({ code: 'ORDERTAIL_RECORDS_REUSED' });
    await engine.stop();
  });
});

describe('records() and finished(): an engine never started', () => {
  const index = resolve(import.meta.dirname, '../dist/src/index.js');
  const script = (dir: string, body: string): { status: number | null; stdout: string; stderr: string } => {
    writeRecords(join(dir, 'in.ndjson'), 5);
    return spawnSync(process.execPath, ['--input-type=module', '-e', `import { Engine } from ${JSON.stringify(index)};\nconst engine = new Engine({ input: ${JSON.stringify(join(dir, 'in.ndjson'))}, once: true, workers: 1 });\n${body}`], { encoding: 'utf8', timeout: 30_000 });
  };

  it('a loop over records() with no start() throws ORDERTAIL_NOT_STARTED instead of the process leaving silently (exit 13)', () => {
    const r = script(workdir(), `let n = 0;\ntry { for await (const record of engine.records()) n++; } catch (err) { console.log(err.code, n); process.exitCode = 1; }`);
    expect(r.stdout.trim()).toBe('ORDERTAIL_NOT_STARTED 0');
    expect(r.status).toBe(1);
  });

  it('await finished() with no start() throws ORDERTAIL_NOT_STARTED too; after a start() it resolves', () => {
    const never = script(workdir(), `try { await engine.finished(); console.log('resolved'); } catch (err) { console.log(err.code); process.exitCode = 1; }`);
    expect(never.stdout.trim()).toBe('ORDERTAIL_NOT_STARTED');
    expect(never.status).toBe(1);
    const started = script(workdir(), `const done = engine.finished();\nawait engine.start();\nawait done;\nawait engine.stop();\nconsole.log('resolved');`);
    expect(started.status, started.stderr).toBe(0);
    expect(started.stdout.trim()).toBe('resolved');
  });

  it('a loop that starts before a start() that comes later, after other work, gets every record', () => {
    const r = script(
      workdir(),
      `const records = engine.records();\nconst loop = (async () => { let n = 0; for await (const record of records) n++; return n; })();\nawait new Promise((done) => setTimeout(done, 300));\nawait engine.start();\nconsole.log(await loop);\nawait engine.stop();`,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('5');
  });
});

describe('records(): leaving early with checkpoints on loses nothing', () => {
  it('break after 100 of 30,000, stop(), restart from the checkpoint: every record is delivered', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const total = 30_000;
    writeRecords(input, total);
    const checkpoint = join(dir, 'state');
    const seen = new Set<number>();
    const first = engineFor(input, { checkpoint, checkpointInterval: 20 });
    const firstRecords = first.records();
    await first.start();
    for await (const record of firstRecords) {
      seen.add((JSON.parse(record.toString()) as { id: number }).id);
      // Slow enough for periodic checkpoints to come due while records wait in the queue.
      if (seen.size % 10 === 0) await sleep(5);
      if (seen.size === 100) break;
    }
    await first.stop();
    const second = engineFor(input, { checkpoint, once: true });
    const secondRecords = second.records();
    await second.start();
    let delivered = 0;
    await within(
      (async () => {
        for await (const record of secondRecords) {
          delivered++;
          seen.add((JSON.parse(record.toString()) as { id: number }).id);
        }
      })(),
      20_000,
      'the restarted loop',
    );
    await second.stop();
    expect(delivered).toBeGreaterThanOrEqual(total - 100);
    expect(seen.size).toBe(total);
  });
});

describe('records(): queue bounds', () => {
  const batchRecords = (recordBytes: number): number => Math.ceil((16 * 1024) / recordBytes);

  it('10-byte records and the default bounds: at most 10,000 records (plus one 16 KiB batch) wait', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    // {"i":1234} plus a newline: 11 bytes.
    writeRecords(input, 300_000, (i) => `{"i":${String(i % 10_000).padStart(4, '0')}}`);
    const engine = engineFor(input);
    const records = engine.records();
    await engine.start();
    const iterator = records[Symbol.asyncIterator]();
    await iterator.next();
    // The consumer stalls; reading must stop at the bound.
    await sleep(1500);
    const q = engine.recordsQueue()!;
    expect(q.peakRecords).toBeGreaterThanOrEqual(10_000);
    expect(q.peakRecords).toBeLessThanOrEqual(10_000 + batchRecords(11));
    expect(engine.stats().recordsEmitted).toBeLessThan(40_000);
    await engine.stop();
  });

  it('maxBytes bounds large records: 2 KiB records, maxBytes 256 KiB', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeRecords(input, 5000, (i) => JSON.stringify({ id: i, pad: 'x'.repeat(2030) }));
    const engine = engineFor(input);
    const records = engine.records({ maxBytes: 256 * 1024, maxRecords: 1_000_000 });
    await engine.start();
    const iterator = records[Symbol.asyncIterator]();
    await iterator.next();
    await sleep(1000);
    const q = engine.recordsQueue()!;
    expect(q.peakBytes).toBeGreaterThanOrEqual(256 * 1024);
    expect(q.peakBytes).toBeLessThanOrEqual(256 * 1024 + 16 * 1024);
    await engine.stop();
  });

  it('bad bounds are configuration errors', () => {
    const engine = new Engine({ input: '/nonexistent/*.ndjson' });
    expect(() => engine.records({ maxRecords: 0 })).toThrow(expect.objectContaining({ code: 'ORDERTAIL_CONFIG', key: 'maxRecords' }));
  });
});
