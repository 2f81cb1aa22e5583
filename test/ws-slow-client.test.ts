/**
 * A client that stops reading, under each slow-client policy, through the
 * engine: its drops or its disconnect (1013) are counted, while fast clients
 * and the file sink get every record, in emit order.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { connect, type TestClient } from './helpers/ws-client.js';
import { readLines, workdir } from './helpers/workdir.js';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT'];
/**
 * Enough bytes (~40 MB) to fill the slow client's socket buffers on loopback
 * and then its queue several times over, written at a pace (~20 MB/s) whose
 * bursts the fast clients' queues hold. The fast clients read on this
 * process's thread, which also runs the engine and the writer: their queues
 * (QUEUE_BYTES) must hold what piles up while that thread is busy (a 4 MiB
 * queue, 200 ms of writing, was once outrun on a loaded CI machine).
 */
const RECORDS = 80_000;
const PER_APPEND = 2_000;
const APPEND_EVERY_MS = 50;
const QUEUE_BYTES = '8MiB';

function line(i: number): string {
  return JSON.stringify({ id: `o-${i}`, timestamp: 1_760_000_000_000 + i, symbol: SYMBOLS[i % 4], side: i % 2 ? 'buy' : 'sell', price: 100 + (i % 997) / 8, note: 'n'.repeat(400) });
}

async function run(policy: 'drop-oldest' | 'disconnect'): Promise<{ engine: Engine; out: string; fast: TestClient[]; btc: TestClient; slow: TestClient; stop: () => Promise<void> }> {
  const dir = workdir();
  const input = join(dir, 'live.ndjson');
  const out = join(dir, 'out.ndjson');
  writeFileSync(input, '');
  const engine = new Engine({ input, sink: `file:${out}`, wsPort: 0, wsSlowPolicy: policy, wsQueueBytes: QUEUE_BYTES, wsQueueMessages: 50_000, workers: 1 });
  await engine.start();
  const url = engine.wsUrl!;
  const fast = [await connect(url), await connect(url)];
  const btc = await connect(url + '?symbols=BTC/USDT&fields=id,symbol');
  const slow = await connect(url);
  // Stops reading: the kernel's buffers fill, then its queue.
  slow.ws.pause();
  if (policy === 'disconnect') {
    // Reads again once the server has given up on it (before the server cuts a client
    // that never answers the close), so the close frame can reach it.
    void (async () => {
      while (!slow.closed && (await engine.wsStats())!.dropped.disconnect === 0) await sleep(50);
      slow.ws.resume();
    })();
  }
  for (let i = 0; i < RECORDS; i += PER_APPEND) {
    appendFileSync(input, Array.from({ length: PER_APPEND }, (_, k) => line(i + k)).join('\n') + '\n');
    await sleep(APPEND_EVERY_MS);
  }
  const stop = async (): Promise<void> => {
    for (const c of [...fast, btc, slow]) c.close();
    await engine.stop();
  };
  return { engine, out, fast, btc, slow, stop };
}

async function everyoneElseGotEverything(engine: Engine, out: string, fast: TestClient[], btc: TestClient): Promise<void> {
  await expect.poll(() => readLines(out).length, { timeout: 30_000 }).toBe(RECORDS);
  const lines = readLines(out);
  for (const c of fast) {
    await c.until(() => c.records.length >= RECORDS, 30_000, `${RECORDS} records`).catch((err: Error) => {
      // What a failure needs to be told apart: records lost on the way, or dropped because this client lagged.
      throw new Error(`${err.message}; this client: ${c.records.length} records, lagging notices ${JSON.stringify(c.ofType('lagging'))}`);
    });
    expect(c.records.map((r) => JSON.stringify(r.record))).toEqual(lines);
    expect(c.records.map((r) => r.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(c.ofType('lagging')).toEqual([]);
  }
  const btcLines = lines.filter((l) => l.includes('"BTC/USDT"'));
  await btc.until(() => btc.records.length >= btcLines.length, 30_000, 'BTC records');
  expect(btc.records.map((r) => r.record)).toEqual(btcLines.map((l) => ({ id: (JSON.parse(l) as { id: string }).id, symbol: 'BTC/USDT' })));
  expect(engine.stats().recordsEmitted).toBe(RECORDS);
}

describe('ws slow client', () => {
  it('drop-oldest: the slow client is told how many were dropped and gets the newest; the others and the sink get everything', async () => {
    const { engine, out, fast, btc, slow, stop } = await run('drop-oldest');
    try {
      await everyoneElseGotEverything(engine, out, fast, btc);
      const dropped = (await engine.wsStats())!.dropped['drop-oldest'];
      expect(dropped).toBeGreaterThan(0);
      slow.ws.resume();
      await slow.until(() => slow.records.at(-1)?.seq === RECORDS, 30_000, 'the newest record');
      const notices = slow.ofType('lagging');
      expect(notices.length).toBeGreaterThan(0);
      expect(String(notices[0]!.message)).toMatch(/^lagging, \d+ dropped$/);
      const noticed = notices.reduce((n, f) => n + (f.dropped as number), 0);
      // Every record either arrived, in order, or was announced as dropped.
      expect(slow.records.length + noticed).toBe(RECORDS);
      expect(noticed).toBe(dropped);
      const seqs = slow.records.map((r) => r.seq);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
      expect(slow.closed).toBeUndefined();
      const stats = (await engine.wsStats())!;
      expect(stats.disconnects.slow).toBe(0);
      expect(stats.clients).toBe(4);
    } finally {
      await stop();
    }
  });

  it('disconnect: the slow client is closed with 1013 and counted; the others and the sink get everything', async () => {
    const { engine, out, fast, btc, slow, stop } = await run('disconnect');
    try {
      await everyoneElseGotEverything(engine, out, fast, btc);
      await slow.until(() => slow.closed !== undefined, 10_000, 'close');
      expect(slow.closed!.code).toBe(1013);
      expect(slow.records.length).toBeLessThan(RECORDS);
      await expect.poll(async () => (await engine.wsStats())!.disconnects.slow, { timeout: 10_000 }).toBe(1);
      const stats = (await engine.wsStats())!;
      expect(stats.dropped.disconnect).toBeGreaterThan(0);
      expect(stats.dropped['drop-oldest']).toBe(0);
      expect(stats.clients).toBe(3);
    } finally {
      await stop();
    }
  });
});
