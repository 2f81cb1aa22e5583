/**
 * NATS sink: the server stopped mid-run and started again. The engine keeps
 * tailing into its window of un-acked records, stops reading once it is full
 * and says so once (a warning, the window-full metric, /readyz not ready with
 * the reason), reconnects by itself when the server is back, and the stream
 * then holds every record exactly once. ORDERTAIL_NATS_OUTAGE_MS sets how long
 * the server stays away (default 4 s; the 30 s passes too, slowly).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { Engine } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';
import { readStream, requireNats, useTestNats } from './helpers/nats.js';
import { jetstreamManager } from '@nats-io/jetstream';

const shared = useTestNats();

const OUTAGE_MS = Number(process.env.ORDERTAIL_NATS_OUTAGE_MS ?? 4000);
const WINDOW = 200;
const STREAM = 'OUTAGE';
const base = Date.parse('2026-12-03T13:00:00Z');
const pad = 'x'.repeat(200);
const orders = (from: number, to: number): string =>
  Array.from({ length: to - from }, (_, k) => JSON.stringify({ id: `o${from + k}`, symbol: 'SOLUSDT', side: 'sell', timestamp: base + from + k, pad })).join('\n') + '\n';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function messages(nc: NatsConnection): Promise<number> {
  try {
    return (await (await jetstreamManager(nc)).streams.info(STREAM)).state.messages;
  } catch {
    return 0;
  }
}

async function readyz(engine: Engine): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> {
  const res = await fetch(`${engine.metricsUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
}

async function metric(engine: Engine, name: string): Promise<number> {
  const text = await (await fetch(`${engine.metricsUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);
}

describe('NATS sink: the server goes away', () => {
  it(`holds a bounded window while the server is down ${OUTAGE_MS} ms, pauses reading, says so once, and catches up exactly once`, async (ctx) => {
    requireNats(ctx);
    const dir = workdir();
    const log = join(dir, 'orders.ndjson');
    writeFileSync(log, orders(0, 1000));
    const warnings: string[] = [];
    const engine = new Engine({
      input: log,
      workers: 2,
      metricsPort: 0,
      checkpoint: join(dir, 'state'),
      sink: shared.server.url('outage.orders', `stream=${STREAM}&window=${WINDOW}&ack_timeout=1s`),
    });
    engine.on('warning', (m, code) => warnings.push(`${code} ${m}`));
    engine.on('error', () => {});
    await engine.start();
    let nc = await shared.server.client();
    let appended = 1000;
    try {
      for (let n = 0; n < 1000; n = await messages(nc)) await sleep(20);
      expect((await readyz(engine)).status).toBe(200);
      await nc.close();

      await shared.server.stop();
      const stoppedAt = Date.now();
      // Far more than the window: the engine must stop reading, not buffer it all.
      for (; appended < 21_000; appended += 2000) appendFileSync(log, orders(appended, appended + 2000));
      let ready = await readyz(engine);
      while (ready.status === 200 || !ready.body.reasons.join(' ').includes('reading paused')) {
        await sleep(50);
        ready = await readyz(engine);
      }
      expect(ready.body.reasons.join(' ')).toMatch(/nats:OUTAGE\/outage\.orders: NATS server unreachable/);
      expect(await metric(engine, 'ordertail_nats_in_flight')).toBe(WINDOW);
      const readAtPause = engine.stats().bytesRead;
      const rssAtPause = process.memoryUsage().rss;
      // Still away: more appended, nothing more read beyond what was in flight in the pipeline.
      appendFileSync(log, orders(appended, appended + 4000));
      appended += 4000;
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));
      expect(engine.stats().bytesRead - readAtPause).toBeLessThan(4 << 20);
      expect(process.memoryUsage().rss - rssAtPause).toBeLessThan(64 << 20);
      expect(await metric(engine, 'ordertail_nats_in_flight')).toBe(WINDOW);
      expect(await metric(engine, 'ordertail_nats_window_full_total')).toBe(1);
      const paused = warnings.filter((w) => w.includes('reading paused'));
      expect(paused, warnings.join('\n')).toHaveLength(1);
      expect(warnings.filter((w) => w.includes('NATS server unavailable'))).toHaveLength(1);

      await shared.server.start();
      nc = await shared.server.client();
      for (let n = 0; n < appended; n = await messages(nc)) await sleep(50);
      while ((await readyz(engine)).status !== 200) await sleep(50);
      expect(await metric(engine, 'ordertail_nats_reconnects_total')).toBeGreaterThanOrEqual(1);
      expect(await metric(engine, 'ordertail_nats_acked_total')).toBeGreaterThanOrEqual(appended);
      expect(await metric(engine, 'ordertail_nats_in_flight')).toBe(0);
    } finally {
      await engine.stop();
    }
    const all = await readStream(nc, STREAM);
    await nc.close();
    const ids = all.map((m) => (JSON.parse(m.data) as { id: string }).id);
    expect(ids.length).toBe(appended);
    expect(new Set(ids).size).toBe(appended);
  }, 120_000);

  it('checkpoints keep committing while a writer appends, and every record is in the stream once', async (ctx) => {
    requireNats(ctx);
    const dir = workdir();
    const log = join(dir, 'steady.ndjson');
    writeFileSync(log, '');
    const engine = new Engine({ input: log, workers: 2, checkpoint: join(dir, 'state'), checkpointInterval: 100, sink: shared.server.url('steady.orders', 'stream=STEADY') });
    engine.on('error', () => {});
    await engine.start();
    let n = 0;
    let committedWhileWriting = 0;
    try {
      const first = engine.stats().checkpoints.committed;
      const t0 = Date.now();
      // ~10k records/s in 5 ms ticks (test/nats-ack-window.test.ts has a flush with records still in flight).
      while (Date.now() - t0 < 3000) {
        appendFileSync(log, orders(n, n + 50));
        n += 50;
        await sleep(5);
      }
      committedWhileWriting = engine.stats().checkpoints.committed - first;
    } finally {
      await engine.stop();
    }
    expect(committedWhileWriting).toBeGreaterThanOrEqual(5);
    const nc = await shared.server.client();
    const ids = new Set((await readStream(nc, 'STEADY')).map((m) => (JSON.parse(m.data) as { id: string }).id));
    await nc.close();
    expect(ids.size).toBe(n);
  }, 60_000);
});
