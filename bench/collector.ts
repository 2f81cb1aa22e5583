/**
 * Exchange collector: 10 mock exchanges (binance USD-M and bybit v5 shapes,
 * 50 ms latency per request, prices moving every request so every cycle writes
 * records), served from a worker thread, polled with real ccxt. Run at two
 * sizes: 10 symbols per exchange (the cycle is bound by latency) and 50 (the
 * main thread's CPU — mostly ccxt parsing the answers — starts to add up, one
 * exchange after another, since all answers are parsed on one thread). The
 * "busy" column is the main thread's event-loop utilisation during the cycle.
 * Measured in one run:
 *
 *   - one exchange alone, for each of the 10 → the slowest single exchange;
 *   - all 10 in one collector (concurrent) → target ≤ 1.2× the slowest single;
 *   - all 10 one after another (the old monolith's way) → ~10×;
 *   - the collector's own loops, healthy vs. one exchange timing out on every
 *     request → the other nine's cycle time changes ≤ 10 %.
 *
 * ccxt's rate limiter is off: the mocks do not limit, and its deliberate
 * spacing of requests is not what is measured here.
 */
import { pathToFileURL } from 'node:url';
import { Collector, resolveCollectorConfig, type CycleReport } from '../src/collector/index.js';
import { MockFleet } from '../src/testing/mock-fleet.js';

const EXCHANGES = 10;
const LATENCY_MS = 50;
const SIZES = (process.env.BENCH_COLLECTOR_SYMBOLS ?? '10,50').split(',').map(Number);
const WARMUP = 3;
const CYCLES = 15;
const LOOP_INTERVAL_MS = 250;
const LOOP_MS = 5000;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};
const p90 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!;
};

function makeCollector(urls: readonly string[], indexes: number[], overrides: Record<string, unknown> = {}): Collector {
  const config = resolveCollectorConfig({
    exchanges: indexes.map((i) => ({ id: i % 2 === 0 ? 'binanceusdm' : 'bybit', name: `ex${i}`, baseUrl: urls[i] })),
    interval: `${LOOP_INTERVAL_MS}ms`,
    rateLimit: false,
    timeout: { initial: '1s', min: '300ms', max: '600ms' },
    retry: { attempts: 2, baseDelay: '20ms', maxDelay: '50ms' },
    breaker: { failureThreshold: 1000, cooldown: '1s' },
    ...overrides,
  });
  return new Collector(config, { write: () => true });
}

interface Timed {
  times: number[];
  /** Main-thread busy time per cycle, ms (event-loop utilisation × wall time). */
  busyMs: number;
}

/** Wall time of `cycle()` over CYCLES runs after WARMUP. */
async function timeCycles(cycle: () => Promise<unknown>, cycles = CYCLES): Promise<Timed> {
  for (let i = 0; i < WARMUP; i++) await cycle();
  const times: number[] = [];
  const elu = performance.eventLoopUtilization();
  for (let i = 0; i < cycles; i++) {
    const t = performance.now();
    await cycle();
    times.push(performance.now() - t);
  }
  const used = performance.eventLoopUtilization(elu);
  return { times, busyMs: used.active / cycles };
}

/** The collector's own loops for LOOP_MS; per tick, when the last of `watched` finished writing. */
async function loopFullCycles(collector: Collector, watched: Set<string>): Promise<number[]> {
  const byTick = new Map<number, CycleReport[]>();
  collector.on('cycle', (r) => {
    if (!watched.has(r.exchange)) return;
    const list = byTick.get(r.tick) ?? [];
    list.push(r);
    byTick.set(r.tick, list);
  });
  await collector.start();
  await new Promise((resolve) => setTimeout(resolve, LOOP_MS));
  await collector.stop();
  const full: number[] = [];
  for (const [tick, reports] of byTick) {
    if (tick < WARMUP || reports.length < watched.size) continue;
    full.push(Math.max(...reports.map((r) => r.finishedAt)) - reports[0]!.scheduledAt);
  }
  return full;
}

export interface CollectorBenchResult {
  symbols: number;
  slowestSingleMs: number;
  concurrentMs: number;
  sequentialMs: number;
  healthyLoopMs: number;
  faultyLoopMs: number;
}

async function runSize(symbols: number): Promise<CollectorBenchResult> {
  const bases = Array.from({ length: symbols }, (_, i) => `C${i}`);
  const fleet = await MockFleet.start(EXCHANGES, { latencyMs: LATENCY_MS, moveEachRequest: true, bases });
  const all = Array.from({ length: EXCHANGES }, (_, i) => i);
  try {
    const singles = all.map((i) => makeCollector(fleet.urls, [i]));
    const solo: Timed[] = [];
    for (const c of singles) solo.push(await timeCycles(() => c.pollOnce()));
    const soloMedians = solo.map((t) => median(t.times));
    const slowest = solo[soloMedians.indexOf(Math.max(...soloMedians))]!;
    const slowestSingle = Math.max(...soloMedians);

    const together = makeCollector(fleet.urls, all);
    const concurrent = await timeCycles(() => together.pollOnce());
    await together.stop();

    const sequential = await timeCycles(async () => {
      for (const c of singles) await c.pollOnce();
    }, 8);
    await Promise.all(singles.map((c) => c.stop()));

    const nine = new Set(all.slice(0, EXCHANGES - 1).map((i) => `ex${i}`));
    const healthy = await loopFullCycles(makeCollector(fleet.urls, all), nine);
    await fleet.inject(EXCHANGES - 1, { fault: { kind: 'hang' } });
    const faulty = await loopFullCycles(makeCollector(fleet.urls, all), nine);
    await fleet.heal(EXCHANGES - 1);

    const result: CollectorBenchResult = {
      symbols,
      slowestSingleMs: slowestSingle,
      concurrentMs: median(concurrent.times),
      sequentialMs: median(sequential.times),
      healthyLoopMs: median(healthy),
      faultyLoopMs: median(faulty),
    };
    const row = (scenario: string, times: number[], busy: number | undefined, vs: string, ratio: number, target: string) => ({
      scenario,
      'median ms': median(times).toFixed(1),
      'p90 ms': p90(times).toFixed(1),
      'busy ms': busy === undefined ? '' : busy.toFixed(1),
      'compared with': vs,
      ratio: ratio.toFixed(2),
      target,
    });
    console.log(`\ncollector: ${EXCHANGES} mock exchanges × ${symbols} symbols, ${LATENCY_MS} ms per request, ticker + funding per cycle (real ccxt)`);
    console.table([
      row('slowest single exchange (alone)', slowest.times, slowest.busyMs, '', 1, ''),
      row(`concurrent, ${EXCHANGES} exchanges (one cycle)`, concurrent.times, concurrent.busyMs, 'slowest single', result.concurrentMs / slowestSingle, '≤ 1.20'),
      row(`sequential, ${EXCHANGES} exchanges (one after another)`, sequential.times, sequential.busyMs, 'slowest single', result.sequentialMs / slowestSingle, `~${EXCHANGES}`),
      row('loop: 9 healthy exchanges, 10th healthy', healthy, undefined, '', 1, ''),
      row('loop: 9 healthy exchanges, 10th timing out', faulty, undefined, '10th healthy', result.faultyLoopMs / result.healthyLoopMs, '≤ 1.10'),
    ]);
    console.log(`single exchanges' medians, ms: ${soloMedians.map((m) => m.toFixed(1)).join(' ')}`);
    return result;
  } finally {
    await fleet.close();
  }
}

export async function run(): Promise<CollectorBenchResult[]> {
  const results: CollectorBenchResult[] = [];
  for (const symbols of SIZES) results.push(await runSize(symbols));
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
