/**
 * WebSocket fan-out, measured from the clients (issue 19): an engine (the
 * CLI, its own process) follows a live file that a writer process appends to
 * at a steady rate; N real `ws` clients in this process, with mixed filters,
 * check that each receives exactly the records its filter selects, in emit
 * order, and time emit → receive from the `at` stamp on every record.
 *
 * Three phases in one run, each a fresh engine, so every ratio compares
 * figures taken minutes apart on the same (shared) machine:
 *   alone    the broadcaster on, no client: the engine's own append → emit latency
 *   clients  N clients
 *   stalled  N clients and one that stops reading (the default drop-oldest policy)
 * Printed: client latency p50/p95/p99, the engine's live latency (its
 * /metrics), the ratios clients/alone (engine) and stalled/clients (clients),
 * mismatches, the stalled client's drops, RSS per client, and the CPU (in
 * cores) this process's clients and the engine used while the writer ran: a
 * clients' figure near 1 means they, not the engine, set the pace.
 *
 *   node dist/bench/ws-fanout.js [--clients 500] [--rate 5000] [--seconds 30]
 *   node dist/bench/ws-fanout.js --ramp 100,250,500,1000 --rate 1000 --seconds 10
 *   node dist/bench/ws-fanout.js … --client-processes 2   (clients spread over processes)
 *   BENCH_BASELINE=<dir> node dist/bench/ws-fanout.js …   (the engine of another build, e.g. bench/baseline.sh COMMIT)
 *   BENCH_ENGINE_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' node dist/bench/ws-fanout.js …   (profile the engine's threads)
 *   node dist/bench/ws-fanout.js --writer FILE RATE SECONDS   (the writer process)
 *
 * --client-processes N: the clients run in N child processes instead of this
 * one (their histograms merged here). In one process, 500 clients parsing
 * 2.5 M records/s keep a single thread near one core, and its queue becomes
 * part of the latency measured; a real dashboard's clients are separate
 * processes (browsers). The CPU column then sums the client processes.
 */
import { processCpuSeconds } from './proc.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import * as hdr from 'hdr-histogram-js';
import { createLatencyHistogram } from '../src/metrics/histograms.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** BENCH_BASELINE=<dir of another built checkout>: its engine is measured, by this bench and its clients. */
const ENGINE_ROOT = process.env.BENCH_BASELINE ?? REPO_ROOT;
/** BENCH_ENGINE_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR": Node flags for the engine's process only (NODE_OPTIONS refuses some, and would reach the clients too). */
const ENGINE_NODE_ARGS = (process.env.BENCH_ENGINE_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** BENCH_CLIENT_NODE_ARGS: the same for the client processes of --client-processes. */
const CLIENT_NODE_ARGS = (process.env.BENCH_CLIENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'ADA/USDT', 'DOGE/USDT', 'BNB/USDT', 'TRX/USDT'];
const TYPES = ['trade', 'ticker', 'order'];

/** Record i of the writer: its symbol and type follow from i, so a client can tell which ids its filter selects. */
const symbolOf = (i: number): string => SYMBOLS[i % SYMBOLS.length]!;
const typeOf = (i: number): string => TYPES[Math.floor(i / SYMBOLS.length) % TYPES.length]!;

function writer(file: string, rate: number, seconds: number): void {
  const fd = openSync(file, 'a');
  const start = performance.now();
  const total = rate * seconds;
  let sent = 0;
  const tick = (): void => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    let chunk = '';
    for (; sent < due; sent++) {
      chunk += `{"id":${sent},"timestamp":${Date.now()},"type":"${typeOf(sent)}","symbol":"${symbolOf(sent)}","side":"${sent & 1 ? 'buy' : 'sell'}","price":${64000 + (sent % 1000) / 4},"qty":0.25,"note":"desk ${sent % 17}"}\n`;
    }
    if (chunk) writeSync(fd, chunk);
    if (sent < total) setTimeout(tick, 2);
    else closeSync(fd);
  };
  tick();
}

interface Filter {
  readonly name: string;
  readonly query: string;
  readonly selects: (i: number) => boolean;
}

/** The mix: a quarter each unfiltered, two symbols, one type, one symbol with two fields. */
const FILTERS: Filter[] = [
  { name: 'all', query: '', selects: () => true },
  { name: 'symbols', query: '?symbols=BTC/USDT,ETH/USDT', selects: (i) => symbolOf(i) === 'BTC/USDT' || symbolOf(i) === 'ETH/USDT' },
  { name: 'type', query: '?types=trade', selects: (i) => typeOf(i) === 'trade' },
  { name: 'fields', query: '?symbols=SOL/USDT&fields=id,price', selects: (i) => symbolOf(i) === 'SOL/USDT' },
];

const RECORDS_FRAME = Buffer.from('{"type":"records"');
const LAGGING_FRAME = Buffer.from('{"type":"lagging"');
/** Each entry of a records frame begins so; the record's id is the first field every filter of the mix keeps. */
const ENTRY_MARK = Buffer.from('{"seq":');
const AT_MARK = ',"at":';
const ID_MARK = ',"record":{"id":';
const DIGIT_0 = 0x30;
const DOT = 0x2e;

/**
 * The frame's bytes read in place: the clients of one process share its
 * thread, so what each spends on a frame delays every other's receive stamp
 * (a string and a regex match per record made this harness, not the
 * broadcaster, most of the latency it measured). Every record is still
 * checked and timed.
 */
class BenchClient {
  lastId = -1;
  received = 0;
  mismatches = 0;
  lagging = 0;
  private pos = 0;
  constructor(
    readonly ws: WebSocket,
    private readonly filter: Filter,
    private readonly latency: Histogram | undefined,
  ) {
    ws.on('message', (data: Buffer) => this.onFrame(data));
    ws.on('error', () => {});
  }

  private onFrame(frame: Buffer): void {
    const now = performance.timeOrigin + performance.now();
    if (frame.compare(RECORDS_FRAME, 0, RECORDS_FRAME.length, 0, RECORDS_FRAME.length) !== 0) {
      if (frame.compare(LAGGING_FRAME, 0, LAGGING_FRAME.length, 0, LAGGING_FRAME.length) === 0) {
        this.lagging += (JSON.parse(frame.toString('utf8')) as { dropped: number }).dropped;
      }
      return;
    }
    // Records of one sink batch share their emit time: timed as a run.
    let runAt = -1;
    let runCount = 0;
    for (let at = frame.indexOf(ENTRY_MARK); at >= 0; at = frame.indexOf(ENTRY_MARK, this.pos)) {
      this.pos = at + ENTRY_MARK.length;
      const seq = this.integer(frame);
      const emittedAt = this.expect(frame, AT_MARK) ? this.decimal(frame) : Number.NaN;
      const id = this.expect(frame, ID_MARK) ? this.integer(frame) : Number.NaN;
      // Not `{"seq":N,"at":T,"record":{"id":I`: a mismatch (and the record is missing from its count).
      if (Number.isNaN(seq) || Number.isNaN(emittedAt) || Number.isNaN(id)) {
        this.mismatches++;
        continue;
      }
      // The next record this filter selects after the last one seen.
      let want = this.lastId + 1;
      while (!this.filter.selects(want)) want++;
      if (id !== want) this.mismatches++;
      this.lastId = id;
      this.received++;
      if (emittedAt === runAt) runCount++;
      else {
        this.record(now, runAt, runCount);
        runAt = emittedAt;
        runCount = 1;
      }
    }
    this.record(now, runAt, runCount);
  }

  private record(now: number, at: number, count: number): void {
    if (count > 0) this.latency?.recordValueWithCount(Math.max(1, Math.round((now - at) * 1000)), count);
  }

  private expect(frame: Buffer, mark: string): boolean {
    for (let i = 0; i < mark.length; i++) if (frame[this.pos + i] !== mark.charCodeAt(i)) return false;
    this.pos += mark.length;
    return true;
  }

  private integer(frame: Buffer): number {
    const from = this.pos;
    let n = 0;
    for (let c = frame[this.pos]! - DIGIT_0; c >= 0 && c <= 9; c = frame[++this.pos]! - DIGIT_0) n = n * 10 + c;
    return this.pos > from ? n : Number.NaN;
  }

  private decimal(frame: Buffer): number {
    const whole = this.integer(frame);
    if (frame[this.pos] !== DOT) return whole;
    this.pos++;
    let fraction = 0;
    let scale = 1;
    for (let c = frame[this.pos]! - DIGIT_0; c >= 0 && c <= 9; c = frame[++this.pos]! - DIGIT_0) {
      fraction = fraction * 10 + c;
      scale *= 10;
    }
    return whole + fraction / scale;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Until the engine's status page reports the WebSocket endpoint (the CLI starts it after the metrics server). */
async function untilUp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok && ((await res.json()) as { enabled: boolean }).enabled) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

async function connect(url: string, filter: Filter, latency: Histogram | undefined): Promise<BenchClient> {
  const ws = new WebSocket(url + filter.query);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return new BenchClient(ws, filter, latency);
}

interface Phase {
  name: string;
  clientP50: number;
  clientP95: number;
  clientP99: number;
  clientMax: number;
  engineP50: number;
  engineP90: number;
  engineP99: number;
  /** Emit → frame handed to a client socket, in the broadcaster's thread (its /metrics). */
  fanoutP50: number;
  fanoutP99: number;
  records: number;
  delivered: number;
  mismatches: number;
  short: number;
  stalledDropped: number;
  /** The engine process's RSS at the end of the phase (its /metrics). */
  engineRssMiB: number;
  /** CPU used while the writer ran, in cores: this process (the clients) and the engine. */
  clientsCores: number;
  engineCores: number;
}

function quantile(metrics: string, q: string, series = 'ordertail_stream_latency_seconds{stream="live"'): number {
  const m = new RegExp(`^${series.replace(/[{}]/g, '\\$&')},quantile="${q}"\\} (\\S+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) * 1000 : Number.NaN;
}

const FANOUT_SERIES = 'ordertail_ws_fanout_latency_seconds{endpoint="ws"';

/** Client processes per phase (--client-processes; 0: the clients live in this process). */
let shards = 0;

interface ShardReport {
  readonly histogram: string;
  readonly delivered: number;
  readonly mismatches: number;
  readonly short: number;
}

/** Child processes running clients [first, first + count) of `clients` (filters by index, as here), once all have connected. */
async function startShards(url: string, clients: number, n: number, total: number): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  const per = Math.ceil(clients / n);
  for (let first = 0; first < clients; first += per) {
    const child = spawn(process.execPath, [...CLIENT_NODE_ARGS, fileURLToPath(import.meta.url), '--client-shard', url, String(first), String(Math.min(per, clients - first)), String(total)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`client shard exited (${code}) before connecting`)));
    });
    children.push(child);
  }
  return children;
}

/** Ask each shard to wait for its last records and report; merge their latencies into `into`. */
async function finishShards(children: ChildProcess[], into: Histogram): Promise<{ delivered: number; mismatches: number; short: number }> {
  const totals = { delivered: 0, mismatches: 0, short: 0 };
  for (const child of children) {
    const report = await new Promise<ShardReport>((resolve) => {
      child.once('message', (m) => resolve(m as ShardReport));
      child.send('finish');
    });
    // The shard exits by itself once it has reported (a profile of it, if asked for, is written then).
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    const h = hdr.decodeFromCompressedBase64(report.histogram);
    into.add(h);
    h.destroy();
    totals.delivered += report.delivered;
    totals.mismatches += report.mismatches;
    totals.short += report.short;
  }
  return totals;
}

/** A client process of --client-processes: connects its clients, then on 'finish' waits for their last records and reports. */
async function clientShard(url: string, first: number, count: number, total: number): Promise<void> {
  const latency = createLatencyHistogram(false);
  const mine: { client: BenchClient; want: number }[] = [];
  const want = FILTERS.map((f) => {
    let n = 0;
    for (let i = 0; i < total; i++) if (f.selects(i)) n++;
    return n;
  });
  for (let i = first; i < first + count; i++) mine.push({ client: await connect(url, FILTERS[i % FILTERS.length]!, latency), want: want[i % FILTERS.length]! });
  process.send!('connected');
  process.once('message', async () => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && mine.some((m) => m.client.received < m.want)) await sleep(100);
    const report: ShardReport = {
      histogram: hdr.encodeIntoCompressedBase64(latency),
      delivered: mine.reduce((n, m) => n + m.client.received, 0),
      mismatches: mine.reduce((n, m) => n + m.client.mismatches, 0),
      short: mine.filter((m) => m.client.received !== m.want).length,
    };
    for (const m of mine) m.client.ws.terminate();
    process.send!(report, () => process.exit(0));
  });
}

async function phase(name: string, clients: number, stalled: boolean, rate: number, seconds: number): Promise<Phase> {
  const dir = mkdtempSync(join(tmpdir(), 'ordertail-ws-bench-'));
  const live = join(dir, 'live.ndjson');
  writeFileSync(live, '');
  const [wsPort, metricsPort] = [await freePort(), await freePort()];
  const engine: ChildProcess = spawn(
    process.execPath,
    [...ENGINE_NODE_ARGS, join(ENGINE_ROOT, 'bin/ordertail.js'), 'run', '--input', live, '--sink', `file:${join(dir, 'out.ndjson')}`, '--no-checkpoint', '--workers', '1',
      '--ws-port', String(wsPort), '--ws-max-clients', String(clients + 10), '--metrics-port', String(metricsPort), '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    await untilUp(`http://127.0.0.1:${metricsPort}/metrics/broadcast`);
    const url = `ws://127.0.0.1:${wsPort}/`;
    const total = rate * seconds;
    // Spread over child processes, the clients are shards; otherwise they all live here.
    const latency = createLatencyHistogram(shards > 0 ? false : undefined);
    const all: BenchClient[] = [];
    const children = shards > 0 && clients > 0 ? await startShards(url, clients, shards, total) : [];
    if (children.length === 0) for (let i = 0; i < clients; i++) all.push(await connect(url, FILTERS[i % FILTERS.length]!, latency));
    let slow: BenchClient | undefined;
    if (stalled) {
      slow = await connect(url, FILTERS[0]!, undefined);
      slow.ws.pause();
    }
    const cpuBefore = { clients: process.cpuUsage(), shards: children.map((c) => processCpuSeconds(c.pid)), engine: processCpuSeconds(engine.pid), at: performance.now() };
    const w = spawn(process.execPath, [fileURLToPath(import.meta.url), '--writer', live, String(rate), String(seconds)], { stdio: 'inherit' });
    await new Promise((resolve) => w.once('exit', resolve));
    const elapsedS = (performance.now() - cpuBefore.at) / 1000;
    const clientsUsage = process.cpuUsage(cpuBefore.clients);
    const shardSeconds = children.reduce((sum, c, i) => sum + processCpuSeconds(c.pid) - cpuBefore.shards[i]!, 0);
    const clientsCores = ((clientsUsage.user + clientsUsage.system) / 1e6 + shardSeconds) / elapsedS;
    const engineCores = (processCpuSeconds(engine.pid) - cpuBefore.engine) / elapsedS;
    // Let the last records arrive.
    const expected = (f: Filter): number => {
      let n = 0;
      for (let i = 0; i < total; i++) if (f.selects(i)) n++;
      return n;
    };
    const want = FILTERS.map(expected);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && all.some((c, i) => c.received < want[i % FILTERS.length]!)) await sleep(100);
    const shardTotals = await finishShards(children, latency);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const result: Phase = {
      name,
      clientP50: latency.getValueAtPercentile(50) / 1000,
      clientP95: latency.getValueAtPercentile(95) / 1000,
      clientP99: latency.getValueAtPercentile(99) / 1000,
      clientMax: latency.maxValue / 1000,
      engineP50: quantile(metrics, '0.5'),
      engineP90: quantile(metrics, '0.9'),
      engineP99: quantile(metrics, '0.99'),
      fanoutP50: quantile(metrics, '0.5', FANOUT_SERIES),
      fanoutP99: quantile(metrics, '0.99', FANOUT_SERIES),
      records: total,
      delivered: all.reduce((n, c) => n + c.received, 0) + shardTotals.delivered,
      mismatches: all.reduce((n, c) => n + c.mismatches, 0) + shardTotals.mismatches,
      short: all.filter((c, i) => c.received !== want[i % FILTERS.length]).length + shardTotals.short,
      stalledDropped: Number(/^ordertail_ws_dropped_records_total\{policy="drop-oldest"\} (\S+)$/m.exec(metrics)?.[1] ?? 0),
      engineRssMiB: Number(/^process_resident_memory_bytes (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN) / 2 ** 20,
      clientsCores,
      engineCores,
    };
    for (const c of all) c.ws.terminate();
    slow?.ws.terminate();
    latency.destroy();
    return result;
  } finally {
    engine.kill('SIGTERM');
    await new Promise((resolve) => engine.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

function arg(argv: string[], flag: string, fallback: number): number {
  const i = argv.indexOf(flag);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

/**
 * --ramp N1,N2,…: the largest client count the machine holds at --rate with
 * client p99 ≤ 100 ms (the issue's second number): one phase per count, no
 * stalled client, RSS per client against a phase without clients.
 */
async function ramp(counts: number[], rate: number, seconds: number): Promise<void> {
  console.log(`ws fan-out ramp: ${counts.join(', ')} clients, ${rate} records/s for ${seconds} s each`);
  const alone = await phase('alone', 0, false, rate, seconds);
  const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '–');
  let largest = 0;
  console.log('clients | client p50 / p95 / p99 (ms) | delivered all | engine RSS per client KiB | CPU cores: clients / engine');
  for (const n of counts) {
    const p = await phase(`${n}`, n, false, rate, seconds);
    const held = p.clientP99 <= 100 && p.short === 0 && p.mismatches === 0;
    if (held) largest = Math.max(largest, n);
    console.log(`${String(n).padStart(7)} | ${f(p.clientP50)} / ${f(p.clientP95)} / ${f(p.clientP99)} | ${p.short === 0 ? 'yes' : `no (${p.short} short)`} | ${f(((p.engineRssMiB - alone.engineRssMiB) * 1024) / n)} | ${f(p.clientsCores)} / ${f(p.engineCores)}${held ? '' : '  (p99 > 100 ms or records missing)'}`);
  }
  console.log(`largest client count held at ${rate} records/s with p99 ≤ 100 ms: ${largest || 'none of those tried'}`);
}

export async function run(argv: string[] = []): Promise<Phase[]> {
  const clients = arg(argv, '--clients', 500);
  const rate = arg(argv, '--rate', 5000);
  const seconds = arg(argv, '--seconds', 30);
  shards = arg(argv, '--client-processes', 0);
  const rampAt = argv.indexOf('--ramp');
  if (rampAt >= 0) {
    await ramp(argv[rampAt + 1]!.split(',').map(Number), rate, seconds);
    return [];
  }
  console.log(`ws fan-out: ${clients} clients (mixed filters${shards > 0 ? `, in ${shards} processes` : ''}), ${rate} records/s for ${seconds} s, engine = CLI with --workers 1`);
  const phases = [await phase('alone', 0, false, rate, seconds), await phase('clients', clients, false, rate, seconds), await phase('stalled', clients, true, rate, seconds)];
  const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '–');
  console.log('phase    | client p50 / p95 / p99 / max (ms) | engine live p50 / p90 / p99 (ms) | fan-out p50 / p99 (ms) | delivered | mismatches | short clients | stalled dropped | engine RSS MiB | CPU cores: clients / engine');
  for (const p of phases) {
    console.log(`${p.name.padEnd(8)} | ${f(p.clientP50)} / ${f(p.clientP95)} / ${f(p.clientP99)} / ${f(p.clientMax)} | ${f(p.engineP50)} / ${f(p.engineP90)} / ${f(p.engineP99)} | ${f(p.fanoutP50)} / ${f(p.fanoutP99)} | ${p.delivered} | ${p.mismatches} | ${p.short} | ${p.stalledDropped} | ${f(p.engineRssMiB)} | ${f(p.clientsCores)} / ${f(p.engineCores)}`);
  }
  const [alone, withClients, stalled] = phases as [Phase, Phase, Phase];
  console.log(`engine live p99, clients / alone: ${f(withClients.engineP99 / alone.engineP99)}; p50: ${f(withClients.engineP50 / alone.engineP50)}`);
  console.log(`client p95, stalled / clients: ${f(stalled.clientP95 / withClients.clientP95)}; p99: ${f(stalled.clientP99 / withClients.clientP99)}`);
  if (clients > 0) console.log(`engine RSS per client (clients − alone, at the end): ${f(((withClients.engineRssMiB - alone.engineRssMiB) * 1024) / clients)} KiB`);
  return phases;
}

if (process.argv[2] === '--writer') writer(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else if (process.argv[2] === '--client-shard') await clientShard(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
else if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));
