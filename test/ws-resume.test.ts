/**
 * Resume: a client that reconnects with the last sequence number it saw gets
 * exactly what it missed from the replay buffer, or a gap notice saying how
 * much is gone when that is older than the buffer.
 */
import { describe, expect, it } from 'vitest';
import type { Broadcaster } from '../dist/src/broadcast/broadcaster.js';
import { batch, broadcasterTestScope, type TestClient } from './helpers/ws-client.js';

let broadcaster: Broadcaster | undefined;
const scope = broadcasterTestScope();
const client = (query = ''): Promise<TestClient> => scope.connect(broadcaster!.url + query);

const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];
const records = (from: number, n: number): Record<string, unknown>[] =>
  Array.from({ length: n }, (_, k) => ({ id: from + k, symbol: SYMBOLS[(from + k) % 2], pad: 'x'.repeat(100) }));

async function offerAndWait(c: TestClient, recs: Record<string, unknown>[], total: number): Promise<void> {
  broadcaster!.offer([batch(recs)]);
  await c.until(() => c.records.length >= total, 10_000, `${total} records`);
}

describe('ws resume', () => {
  it('reconnecting with lastSeq delivers exactly what was missed, then the live stream', async () => {
    broadcaster = await scope.start();
    const first = await client();
    await offerAndWait(first, records(0, 100), 100);
    const lastSeq = first.records.at(-1)!.seq;
    expect(lastSeq).toBe(100);
    first.close();
    broadcaster.offer([batch(records(100, 150))]);
    const again = await client(`?lastSeq=${lastSeq}`);
    await again.until(() => again.records.length === 150);
    broadcaster.offer([batch(records(250, 10))]);
    await again.until(() => again.records.length === 160);
    expect(again.records.map((r) => r.seq)).toEqual(Array.from({ length: 160 }, (_, i) => 101 + i));
    expect(again.records.map((r) => r.record.id)).toEqual(Array.from({ length: 160 }, (_, i) => 100 + i));
    expect(again.ofType('gap')).toEqual([]);
    expect((await broadcaster.refresh()).resumes).toEqual({ replayed: 1, gap: 0 });
  });

  it('resume keeps the filter: a filtered client gets only its missed records', async () => {
    broadcaster = await scope.start();
    broadcaster.offer([batch(records(0, 40))]);
    const c = await client('?symbols=ETH/USDT&fields=id&lastSeq=20');
    await c.until(() => c.records.length === 10);
    expect(c.records.map((r) => r.record)).toEqual(Array.from({ length: 10 }, (_, i) => ({ id: 21 + 2 * i })));
    expect(c.records.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 22 + 2 * i));
  });

  it('older than the buffer: a gap notice with the count missed, then everything still held, in order', async () => {
    // Room for a few dozen records of ~130 bytes.
    broadcaster = await scope.start({ replayBytes: 8 * 1024 });
    broadcaster.offer([batch(records(0, 500))]);
    const c = await client('?lastSeq=10');
    await c.until(() => c.records.length > 0 && c.records.at(-1)!.seq === 500, 10_000, 'seq 500');
    const gap = c.ofType('gap');
    expect(gap).toHaveLength(1);
    const oldest = c.records[0]!.seq;
    expect(gap[0]).toMatchObject({ after: 10, resumedAt: oldest, missed: oldest - 11, reason: 'replay' });
    expect(String(gap[0]!.message)).toContain('no longer held');
    expect(oldest).toBeGreaterThan(400);
    expect(c.records.map((r) => r.seq)).toEqual(Array.from({ length: 501 - oldest }, (_, i) => oldest + i));
    // The gap notice comes before the records it explains.
    expect(c.frames.findIndex((f) => f.type === 'gap')).toBeLessThan(c.frames.findIndex((f) => f.type === 'records'));
    expect((await broadcaster.refresh()).resumes).toEqual({ replayed: 0, gap: 1 });
  });

  it('a subscribe message with lastSeq resumes too; a lastSeq from the future (a restarted engine) gets a gap notice', async () => {
    broadcaster = await scope.start();
    broadcaster.offer([batch(records(0, 30))]);
    const c = await client();
    c.ws.send(JSON.stringify({ type: 'subscribe', lastSeq: 25 }));
    await c.until(() => c.records.length === 5);
    expect(c.records.map((r) => r.seq)).toEqual([26, 27, 28, 29, 30]);
    const late = await client('?lastSeq=999');
    await late.until(() => late.ofType('gap').length === 1);
    expect(late.ofType('gap')[0]).toMatchObject({ after: 999, reason: 'future', resumedAt: 31 });
    broadcaster.offer([batch(records(30, 1))]);
    await late.until(() => late.records.length === 1);
    expect(late.records[0]!.seq).toBe(31);
  });

  it('with no replay buffer (wsReplay 0) every resume is a gap', async () => {
    broadcaster = await scope.start({ replayBytes: 0 });
    broadcaster.offer([batch(records(0, 5))]);
    const c = await client('?lastSeq=2');
    await c.until(() => c.ofType('gap').length === 1);
    expect(c.ofType('gap')[0]).toMatchObject({ after: 2, missed: 3, resumedAt: 6 });
  });
});
