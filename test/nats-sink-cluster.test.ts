/**
 * A three-node JetStream cluster on loopback, the stream with 3 replicas:
 * the stream leader is killed (kill -9) while the engine follows a log that
 * a writer appends to. Publishing resumes once the remaining two elect a new
 * leader (the time is measured and printed), and the stream ends up with
 * every order exactly once: publishes the dead leader never acked are sent
 * again with the same Msg-Id.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Engine } from '../dist/src/index.js';
import { expectedRecords, killAll, startWriter } from './helpers/crash-harness.mjs';
import { workdir } from './helpers/workdir.js';
import { NATS_MISSING, readStream, requireNats, TestNatsCluster } from './helpers/nats.js';

let cluster: TestNatsCluster | undefined;
beforeAll(async () => {
  if (!NATS_MISSING) cluster = await TestNatsCluster.start(3);
}, 60_000);
afterAll(async () => cluster?.destroy());
afterEach(() => killAll());

const STREAM = 'CLUSTERED';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Messages in the stream, or undefined while the cluster cannot say (no leader). */
async function messages(nc: NatsConnection): Promise<number | undefined> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 1000 });
    return (await jsm.streams.info(STREAM)).state.messages;
  } catch {
    return undefined;
  }
}

describe('NATS sink: three-node cluster, R3 stream', () => {
  it('kill -9 of the stream leader mid-run: publishing resumes after the election, nothing lost or duplicated', async (ctx) => {
    requireNats(ctx);
    const dir = workdir('ordertail-natscluster-');
    const log = join(dir, 'orders.log');
    const writer = await startWriter({ streams: [{ name: 's0', path: log }], rate: 2000, seed: 7, partialProb: 0.01 });
    const warnings: string[] = [];
    const engine = new Engine({ input: log, workers: 2, checkpoint: join(dir, 'state'), sink: cluster!.url('clustered.orders', `stream=${STREAM}&replicas=3&ack_timeout=1s`) });
    engine.on('warning', (m) => warnings.push(m));
    engine.on('error', () => {});
    let nc: NatsConnection | undefined;
    let summary: { streams: { lines: number }[] } | undefined;
    let resumedMs = -1;
    try {
      await engine.start();
      nc = await cluster!.client();
      while (((await messages(nc)) ?? 0) < 2000) await sleep(50);
      const leader = await cluster!.leaderOf(STREAM);
      const atKill = (await messages(nc)) ?? 0;
      const killedAt = Date.now();
      await leader.kill();
      // Resumed: the stream (under its new leader) holds more than it did at the kill.
      for (;;) {
        const n = await messages(nc);
        if (n !== undefined && n > atKill) break;
        if (Date.now() - killedAt > 60_000) throw new Error(`no publish acked within 60 s of the leader's death:\n${warnings.join('\n')}`);
        await sleep(25);
      }
      resumedMs = Date.now() - killedAt;
      const newLeader = await cluster!.leaderOf(STREAM);
      expect(newLeader).not.toBe(leader);
      await sleep(1000);
      summary = (await writer.stop()) as typeof summary;
      const expected = expectedRecords([[log]], { keyed: true }).expected.size;
      const deadline = Date.now() + 60_000;
      while (((await messages(nc)) ?? 0) < expected && Date.now() < deadline) await sleep(100);
    } finally {
      if (!summary) await writer.stop().catch(() => {});
      await engine.stop();
    }
    console.log(`stream leader killed: publishing resumed after ${resumedMs} ms (loopback, 3 nodes, load ${(await import('node:os')).loadavg()[0]!.toFixed(2)})`);
    const { expected } = expectedRecords([[log]], { keyed: true });
    const got = new Map<string, number>();
    for (const m of await readStream(nc!, STREAM)) {
      const r = JSON.parse(m.data) as { stream: string; seq: number };
      const k = `${r.stream}:${r.seq}`;
      got.set(k, (got.get(k) ?? 0) + 1);
    }
    await nc!.close();
    const missing = [...expected.keys()].filter((k) => !got.has(k));
    const duplicated = [...got].filter(([, n]) => n > 1).map(([k]) => k);
    expect({ missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5) }, warnings.join('\n')).toEqual({ missing: [], duplicated: [] });
    expect(got.size).toBe(expected.size);
  }, 150_000);
});
