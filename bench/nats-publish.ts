/**
 * The NATS JetStream sink (issue 18), against a throwaway nats-server on
 * loopback (test/helpers/nats.ts; needs the Debian `nats-server` package),
 * every run into a fresh file-backed R1 stream:
 *
 * 1. Throughput: one engine (`once`, 2 workers) publishing an order log,
 *    against, in the same run and with the same client library on the same
 *    records (pre-split, Msg-Ids computed up front):
 *    - a tight loop of the same asynchronous publish (core publish with a
 *      reply inbox and a Nats-Msg-Id header, 4096 un-acked at most): the
 *      ceiling for this client; the issue asks for a ratio ≥ 0.8;
 *    - the client's js.publish() with 4096 promises in flight;
 *    - js.publish() awaited for each record, the way most code does it.
 *    Records/s, median of BENCH_NATS_ROUNDS (default 3), the order alternated.
 * 2. Follow mode: a writer appends orders at BENCH_NATS_FOLLOW_RATE records/s
 *    (default 20000) for BENCH_NATS_FOLLOW_SECONDS (default 15) while the
 *    engine follows the log; append → stored per record is the stream's
 *    timestamp of the message less the time the writer put in it (the ack is
 *    sent right after the store).
 *
 *   npm run build && npm run build:bench && node dist/bench/nats-publish.js
 *   (BENCH_NATS_RECORDS, default 200000)
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Engine } from '../src/index.js';
import { ChunkRecords, MsgIdReader } from '../src/sinks/nats/msg-ids.js';
import { TestNats } from '../test/helpers/nats.js';

const RECORDS = Number(process.env.BENCH_NATS_RECORDS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_NATS_ROUNDS ?? 3);
const AWAIT_EACH_RECORDS = Math.min(RECORDS, 20_000);
const WINDOW = 4096;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function orders(n: number): string {
  const sides = ['buy', 'sell'];
  const symbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'];
  const base = Date.parse('2026-12-03T00:00:00Z');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ id: `o-${i}`, symbol: symbols[i % 4], side: sides[i % 2], price: 100 + (i % 997) / 10, qty: (i % 13) + 1, venue: 'binance', timestamp: base + i }));
  }
  return `${lines.join('\n')}\n`;
}

/** The log's records and their Msg-Ids, as the sink computes them. */
function prepared(log: string): { data: Uint8Array[]; ids: string[] } {
  const buf = Buffer.from(log);
  const out = new ChunkRecords();
  new MsgIdReader({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20 }).read(buf, undefined, out);
  const data: Uint8Array[] = [];
  for (let i = 0; i < out.count; i++) data.push(buf.subarray(out.offsets[i]!, out.offsets[i]! + out.lengths[i]!));
  return { data, ids: out.ids.slice(0, out.count) };
}

async function freshStream(nc: NatsConnection, name: string, subject: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(name).catch(() => false);
  await jsm.streams.add({ name, subjects: [subject], storage: 'file' as never, num_replicas: 1, duplicate_window: 120_000 * 1e6 });
}

async function stored(nc: NatsConnection, name: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(name)).state.messages;
}

/** The sink's publishing method, bare: core publish, reply inbox, one subscription for acks, a window. */
async function tightLoop(nc: NatsConnection, subject: string, recs: { data: Uint8Array[]; ids: string[] }): Promise<number> {
  const inbox = createInbox();
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (_err, m) => {
      const ack = JSON.parse(m.string()) as { error?: unknown };
      if (ack.error) throw new Error(`publish refused: ${m.string()}`);
      inFlight--;
      if (wake && inFlight <= WINDOW / 2) {
        const w = wake;
        wake = undefined;
        w();
      }
    },
  });
  const t0 = performance.now();
  for (let i = 0; i < recs.data.length; i++) {
    if (inFlight >= WINDOW) await new Promise<void>((r) => (wake = r));
    const h = headers();
    h.set('Nats-Msg-Id', recs.ids[i]!);
    inFlight++;
    nc.publish(subject, recs.data[i]!, { reply: `${inbox}.${i}`, headers: h });
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  const ms = performance.now() - t0;
  sub.unsubscribe();
  return ms;
}

/** js.publish() with up to WINDOW promises in flight. */
async function jsWindowed(nc: NatsConnection, subject: string, recs: { data: Uint8Array[]; ids: string[] }): Promise<number> {
  const js = jetstream(nc);
  let inFlight = 0;
  let wake: (() => void) | undefined;
  const done = (): void => {
    inFlight--;
    if (wake && inFlight <= WINDOW / 2) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const t0 = performance.now();
  for (let i = 0; i < recs.data.length; i++) {
    if (inFlight >= WINDOW) await new Promise<void>((r) => (wake = r));
    inFlight++;
    js.publish(subject, recs.data[i]!, { msgID: recs.ids[i]! }).then(done, (err: unknown) => {
      throw err;
    });
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  return performance.now() - t0;
}

async function jsAwaitEach(nc: NatsConnection, subject: string, recs: { data: Uint8Array[]; ids: string[] }): Promise<number> {
  const js = jetstream(nc);
  const t0 = performance.now();
  for (let i = 0; i < AWAIT_EACH_RECORDS; i++) await js.publish(subject, recs.data[i]!, { msgID: recs.ids[i]! });
  return performance.now() - t0;
}

/** Start-up (pool, connection, stream check) of the latest engine run, ms. */
const startups: number[] = [];

async function engineRun(server: TestNats, logPath: string, subject: string, stream: string): Promise<number> {
  const t0 = performance.now();
  const engine = new Engine({ input: logPath, once: true, workers: 2, sink: server.url(subject, `stream=${stream}`) });
  await engine.start();
  startups.push(performance.now() - t0);
  await engine.finished();
  await engine.stop();
  return performance.now() - t0;
}

/** Part 2: append → stored percentiles in follow mode. */
async function followLatency(server: TestNats, nc: NatsConnection, dir: string): Promise<string> {
  const rate = Number(process.env.BENCH_NATS_FOLLOW_RATE ?? 20_000);
  const seconds = Number(process.env.BENCH_NATS_FOLLOW_SECONDS ?? 15);
  const log = join(dir, 'follow.ndjson');
  writeFileSync(log, '');
  await freshStream(nc, 'BENCH_FOLLOW', 'bench.follow');
  const engine = new Engine({ input: log, workers: 2, sink: server.url('bench.follow', 'stream=BENCH_FOLLOW') });
  await engine.start();
  await sleep(1000);
  const tickMs = 5;
  let seq = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    // Catch up to the rate's schedule: a late tick writes more.
    const due = Math.floor(((Date.now() - t0) * rate) / 1000);
    const lines: string[] = [];
    for (; seq < due; seq++) lines.push(JSON.stringify({ id: `f-${seq}`, symbol: 'BTCUSDT', side: 'buy', timestamp: Date.now(), written_at: Date.now() }));
    if (lines.length) appendFileSync(log, `${lines.join('\n')}\n`);
    await sleep(tickMs);
  }
  while ((await stored(nc, 'BENCH_FOLLOW')) < seq) await sleep(100);
  await engine.stop();
  const consumer = await jetstream(nc).consumers.get('BENCH_FOLLOW', { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 5000 });
  const ms: number[] = [];
  for await (const m of messages) {
    const written = (JSON.parse(m.string()) as { written_at: number }).written_at;
    ms.push(Number(m.timestampNanos / 1_000_000n) - written);
    if (m.info.pending === 0) break;
  }
  await messages.close();
  ms.sort((a, b) => a - b);
  const at = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return `follow  ${rate} records/s for ${seconds} s: ${ms.length} of ${seq} stored; append → stored (acked) p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${ms[ms.length - 1]} ms`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ordertail-bench-nats-'));
  const server = await TestNats.start();
  const nc = await server.client();
  try {
    const log = orders(RECORDS);
    const logPath = join(dir, 'orders.ndjson');
    writeFileSync(logPath, log);
    const recs = prepared(log);
    const results = { engine: [] as number[], tight: [] as number[], jsWindowed: [] as number[], jsAwait: [] as number[] };
    console.log(`records: ${RECORDS} (${(log.length / 1e6).toFixed(1)} MB), window ${WINDOW}, ${ROUNDS} rounds, load at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (let round = 0; round < ROUNDS; round++) {
      const runs: [keyof typeof results, () => Promise<number>, number][] = [
        ['engine', () => engineRun(server, logPath, `bench.engine${round}`, `BENCH_ENGINE${round}`), RECORDS],
        ['tight', () => tightLoop(nc, `bench.tight${round}`, recs), RECORDS],
        ['jsWindowed', () => jsWindowed(nc, `bench.jsw${round}`, recs), RECORDS],
        ['jsAwait', () => jsAwaitEach(nc, `bench.jsa${round}`, recs), AWAIT_EACH_RECORDS],
      ];
      // Alternate the order: a shared machine drifts.
      if (round % 2 === 1) runs.reverse();
      for (const [name, run, expected] of runs) {
        const stream = { engine: `BENCH_ENGINE${round}`, tight: `BENCH_TIGHT${round}`, jsWindowed: `BENCH_JSW${round}`, jsAwait: `BENCH_JSA${round}` }[name];
        const subject = { engine: `bench.engine${round}`, tight: `bench.tight${round}`, jsWindowed: `bench.jsw${round}`, jsAwait: `bench.jsa${round}` }[name];
        await freshStream(nc, stream, subject);
        const ms = await run();
        const n = await stored(nc, stream);
        if (n !== expected) throw new Error(`${name}: the stream holds ${n} messages, expected ${expected}`);
        results[name].push(ms);
        await (await jetstreamManager(nc)).streams.delete(stream);
      }
    }
    const rate = (ms: number[], n: number): number => n / (median(ms) / 1000);
    const fmt = (ms: number[], n: number): string => `${Math.round(rate(ms, n)).toLocaleString('en-US')} records/s (median of ${ms.map((m) => Math.round(m)).join(', ')} ms)`;
    console.log(`engine   run --once --sink nats (incl. start-up and final acks): ${fmt(results.engine, RECORDS)}`);
    console.log(`client   tight async publish loop (the sink's method):          ${fmt(results.tight, RECORDS)}`);
    console.log(`client   js.publish(), ${WINDOW} promises in flight:                ${fmt(results.jsWindowed, RECORDS)}`);
    console.log(`client   js.publish() awaited for each (${AWAIT_EACH_RECORDS} records):      ${fmt(results.jsAwait, AWAIT_EACH_RECORDS)}`);
    const reading = results.engine.map((ms, i) => ms - startups[i]!);
    console.log(`engine   the same, from start() resolved (connected, stream checked) to stop(): ${fmt(reading, RECORDS)}`);
    console.log(`ratio    engine / tight loop (records/s): ${(rate(results.engine, RECORDS) / rate(results.tight, RECORDS)).toFixed(2)}; without start-up ${(rate(reading, RECORDS) / rate(results.tight, RECORDS)).toFixed(2)}`);
    console.log(`ratio    engine / js.publish windowed:    ${(rate(results.engine, RECORDS) / rate(results.jsWindowed, RECORDS)).toFixed(2)}`);
    console.log(`ratio    engine / js.publish awaited:     ${(rate(results.engine, RECORDS) / rate(results.jsAwait, AWAIT_EACH_RECORDS)).toFixed(2)}`);
    console.log(await followLatency(server, nc, dir));
    console.log(`load at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await nc.close();
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
