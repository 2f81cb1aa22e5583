/**
 * NATS input: `--input nats://HOST:PORT/SUBJECT?durable=NAME` feeds a
 * JetStream durable consumer through the engine (dedup, sinks, checkpoints).
 * Messages are spooled into the checkpoint directory and acked only once a
 * checkpoint covers them; kill -9 at random points while a publisher goes on
 * leaves every order exactly once in the file sink, the consumer with nothing
 * pending. The library's records() iterator reads the same way.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Engine } from '../dist/src/index.js';
import { NatsSpool } from '../dist/src/sources/nats-spool.js';
import { killAll, mulberry32, runEngine, spawnEngine } from './helpers/crash-harness.mjs';
import { readLines, workdir } from './helpers/workdir.js';
import { requireNats, TestNats, useTestNats } from './helpers/nats.js';

const nats = useTestNats();
afterEach(() => killAll());

const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const base = Date.parse('2026-12-03T15:00:00Z');
const order = (i: number): string => JSON.stringify({ id: `n${i}`, seq: i, side: i % 2 ? 'buy' : 'sell', timestamp: base + i });

async function stream(name: string, subject: string): Promise<void> {
  await (await jetstreamManager(nats.client)).streams.add({ name, subjects: [subject] });
}

/** Publish orders [from, to) (each id once), plus a copy of every tenth. */
async function publish(subject: string, from: number, to: number): Promise<number> {
  const js = jetstream(nats.client);
  const acks: Promise<unknown>[] = [];
  let n = 0;
  for (let i = from; i < to; i++) {
    acks.push(js.publish(subject, order(i)));
    n++;
    if (i % 10 === 0) {
      acks.push(js.publish(subject, order(i)));
      n++;
    }
  }
  await Promise.all(acks);
  return n;
}

/** The consumer's pending counts once they settle at zero (the server applies acks shortly after they arrive), or as they are after 10 s. */
async function consumerState(name: string, durable: string): Promise<{ pending: number; ackPending: number }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await (await jetstreamManager(nats.client)).consumers.info(name, durable);
    const state = { pending: info.num_pending, ackPending: info.num_ack_pending };
    if ((state.pending === 0 && state.ackPending === 0) || Date.now() > deadline) return state;
    await sleep(100);
  }
}

function seqs(path: string): Map<number, number> {
  const got = new Map<number, number>();
  for (const l of readLines(path)) {
    const s = (JSON.parse(l) as { seq: number }).seq;
    got.set(s, (got.get(s) ?? 0) + 1);
  }
  return got;
}

describe('NATS input: the spool', () => {
  it('a batch a crash interrupted: its whole lines are recorded, the half line cut, nothing spooled twice', () => {
    const path = join(workdir(), 'spool.ndjson');
    const m = (seq: number, text = `{"a":${seq}}`) => ({ seq, data: Buffer.from(text) });
    const spool = new NatsSpool(path);
    spool.append([m(1), m(2, '{"a":\n2}')]);
    spool.close();
    // A raw line break inside a message is a space: one message, one line.
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a": 2}\n');
    // The crash: the state names the batch [3, 4, 5], the disk has 3 and half of 4.
    writeFileSync(`${path}.state`, JSON.stringify({ ranges: [[1, 2]], bytes: 17, appending: { seqs: [3, 4, 5], from: 17 } }));
    appendFileSync(path, '{"a":3}\n{"a"');
    const again = new NatsSpool(path);
    expect(again.recovered).toBe(1);
    expect(again.unrecordedBytes).toBe(0);
    expect([1, 2, 3, 4, 5].map((s) => again.has(s))).toEqual([true, true, true, false, false]);
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a": 2}\n{"a":3}\n');
    again.append([m(5), m(4)]);
    again.close();
    const third = new NatsSpool(path);
    expect([3, 4, 5, 6].map((s) => third.has(s))).toEqual([true, true, true, false]);
    expect(third.lastSeq).toBe(5);
    third.close();
  });
});

describe('NATS input', () => {
  it('--once: every order once in the sink, every message acked, a second run adds nothing', async (ctx) => {
    requireNats(ctx);
    await stream('IN_ONCE', 'in.once');
    await publish('in.once', 0, 3000);
    const dir = workdir();
    const out = join(dir, 'out.ndjson');
    const args = ['run', '--once', '--input', nats.server.url('in.once', 'durable=reader'), '--checkpoint', join(dir, 'cp'), '--sink', `file:${out}`, '--no-metrics', '--log-level', 'warn'];
    const first = await runEngine(args);
    expect(first.code, first.stderr).toBe(0);
    const got = seqs(out);
    expect(got.size).toBe(3000);
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(await consumerState('IN_ONCE', 'reader')).toEqual({ pending: 0, ackPending: 0 });
    await publish('in.once', 3000, 3100);
    const second = await runEngine(args);
    expect(second.code, second.stderr).toBe(0);
    expect(readLines(out)).toHaveLength(3100);
  }, 60_000);

  it('without a checkpoint directory: exit 2 naming why', async (ctx) => {
    requireNats(ctx);
    const r = await runEngine(['run', '--once', '--input', nats.server.url('in.once', 'durable=nocp'), '--sink', 'none', '--no-metrics']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a NATS input needs a checkpoint directory/);
  });

  it(`kill -9 at random points while orders are published: every order once in the sink (seed ${seed})`, async (ctx) => {
    requireNats(ctx);
    await stream('IN_CRASH', 'in.crash');
    const dir = workdir();
    const out = join(dir, 'out.ndjson');
    const args = ['run', '--input', nats.server.url('in.crash', 'durable=crashy&ack_wait=2s'), '--checkpoint', join(dir, 'cp'), '--checkpoint-interval', '100ms', '--sink', `file:${out}`, '--no-metrics', '--workers', '2', '--log-level', 'warn'];
    const rand = mulberry32(seed);
    let published = 0;
    let next = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await publish('in.crash', next, next + 100);
        next += 100;
        published = next;
        await sleep(50);
      }
    })();
    const notes: string[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const e = spawnEngine(args);
        await Promise.race([e.exited, sleep(Math.round(400 + rand() * 1200))]);
        e.child.kill('SIGKILL');
        const { signal } = await e.exited;
        expect(signal, `cycle ${i + 1} ended by itself:\n${e.stderr()}`).toBe('SIGKILL');
        notes.push(`kill ${i + 1}: ${readLines(out).length} lines, ${published} published`);
      }
    } finally {
      publishing = false;
      await publisher;
    }
    const final = await runEngine([...args, '--once'], 90_000);
    const why = `seed ${seed}\n${notes.join('\n')}\n${final.stderr}`;
    expect(final.code, why).toBe(0);
    const got = seqs(out);
    const missing = Array.from({ length: published }, (_, i) => i).filter((i) => !got.has(i));
    const duplicated = [...got].filter(([, n]) => n > 1).map(([s]) => s);
    expect({ missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5) }, why).toEqual({ missing: [], duplicated: [] });
    expect(got.size, why).toBe(published);
    expect(await consumerState('IN_CRASH', 'crashy')).toEqual({ pending: 0, ackPending: 0 });
  }, 150_000);

  it('the library reads it through records()', async (ctx) => {
    requireNats(ctx);
    await stream('IN_LIB', 'in.lib');
    await publish('in.lib', 0, 500);
    const dir = workdir();
    const engine = new Engine({ input: nats.server.url('in.lib', 'durable=lib'), once: true, checkpoint: join(dir, 'cp'), workers: 2 });
    const ids = new Set<string>();
    const loop = (async () => {
      for await (const r of engine.records()) ids.add((JSON.parse(r.toString()) as { id: string }).id);
    })();
    await engine.start();
    await engine.finished();
    await engine.stop();
    await loop;
    expect(ids.size).toBe(500);
  }, 60_000);

  it('its server away: /readyz not ready naming the input, back by itself; the metrics count what was received and acked', async (ctx) => {
    requireNats(ctx);
    const own = await TestNats.start();
    const client = await own.client();
    try {
      await (await jetstreamManager(client)).streams.add({ name: 'IN_AWAY', subjects: ['in.away'] });
      const js = jetstream(client);
      for (let i = 0; i < 200; i++) await js.publish('in.away', order(i));
      const dir = workdir();
      const out = join(dir, 'out.ndjson');
      const engine = new Engine({ input: own.url('in.away', 'durable=away'), checkpoint: join(dir, 'cp'), checkpointInterval: 100, sink: `file:${out}`, workers: 2, metricsPort: 0 });
      engine.on('warning', () => {});
      engine.on('error', () => {});
      await engine.start();
      const readyz = async () => (await fetch(`${engine.metricsUrl}/readyz`)).json() as Promise<{ ready: boolean; reasons: string[] }>;
      const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(await (await fetch(`${engine.metricsUrl}/metrics`)).text())?.[1]);
      try {
        while ((await metric('ordertail_nats_input_acked_total')) < 200) await sleep(50);
        expect((await readyz()).ready).toBe(true);
        await client.close();
        await own.stop();
        let r = await readyz();
        while (r.ready) r = await readyz();
        expect(r.reasons.join(' ')).toMatch(/input nats-input:in\.away\/away: NATS server unreachable/);
        await own.start();
        while (!(await readyz()).ready) await sleep(50);
        expect(await metric('ordertail_nats_input_reconnects_total')).toBeGreaterThanOrEqual(1);
        expect(await metric('ordertail_nats_input_received_total')).toBeGreaterThanOrEqual(200);
      } finally {
        await engine.stop();
      }
      expect(readLines(out)).toHaveLength(200);
    } finally {
      await client.close().catch(() => {});
      await own.destroy();
    }
  }, 60_000);
});
