import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { startMetricsServer, type MetricsServer } from '../dist/src/metrics/http-server.js';
import { FakeTelemetry, parseExposition, repeat } from './helpers/fake-telemetry.js';
import { until, workdir } from './helpers/workdir.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const PROMTOOL_MISSING = promtool.error
  ? 'promtool not found (Debian package `prometheus`: apt-get install -y prometheus; .ci/run installs it)'
  : undefined;

function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const servers: MetricsServer[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
  while (engines.length) await engines.pop()!.stop();
});

async function scrape(server: MetricsServer): Promise<{ text: string; type: string | null }> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  return { text: await res.text(), type: res.headers.get('content-type') };
}

function fedSource(): FakeTelemetry {
  const source = new FakeTelemetry();
  source.fileList = [
    { path: '/logs/orders-2.ndjson', live: true, sizeBytes: 5000, readBytes: 4000, lagBytes: 1000 },
    { path: '/logs/orders-1.ndjson', live: false, sizeBytes: 90_000, readBytes: 30_000, lagBytes: 60_000 },
  ];
  source.feed('live', { emittedMicros: repeat(800, 40), duplicates: 3, rejected: { invalid_json: 2 }, withoutKey: 1, bytes: 4000 });
  source.feed('history', { emittedMicros: repeat(40_000, 100), duplicates: 7, rejected: { too_large: 1 }, bytes: 30_000 });
  return source;
}

describe('Prometheus exposition at /metrics', () => {
  it('passes promtool check metrics', async (ctx) => {
    if (PROMTOOL_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(PROMTOOL_MISSING);
    if (PROMTOOL_MISSING) ctx.skip(PROMTOOL_MISSING);
    const server = await startMetricsServer({ source: fedSource(), port: 0 });
    servers.push(server);
    const { text, type } = await scrape(server);
    expect(type).toContain('text/plain');
    const check = promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });

  it('reports the source totals as counters and its gauges by label', async () => {
    const source = fedSource();
    const server = await startMetricsServer({ source, port: 0 });
    servers.push(server);
    let m = parseExposition((await scrape(server)).text);
    expect(m.get('ordertail_records_read_total')).toBe(40 + 3 + 2 + 100 + 7 + 1);
    expect(m.get('ordertail_records_emitted_total')).toBe(140);
    expect(m.get('ordertail_checkpoints_committed_total')).toBe(3);
    expect(m.get('ordertail_checkpoints_failed_total')).toBe(1);
    expect(m.get('ordertail_open_input_files')).toBe(2);
    expect(m.get('ordertail_records_duplicate_total')).toBe(10);
    expect(m.get('ordertail_records_rejected_total{reason="invalid_json"}')).toBe(2);
    expect(m.get('ordertail_records_rejected_total{reason="too_large"}')).toBe(1);
    expect(m.get('ordertail_records_without_key_total')).toBe(1);
    expect(m.get('ordertail_read_bytes_total')).toBe(34_000);
    expect(m.get('ordertail_file_lag_bytes{file="/logs/orders-1.ndjson",stream="history"}')).toBe(60_000);
    expect(m.get('ordertail_file_lag_bytes{file="/logs/orders-2.ndjson",stream="live"}')).toBe(1000);
    expect(m.get('ordertail_ring_occupancy_slots{ring="0"}')).toBe(3);
    expect(m.get('ordertail_ring_occupancy_slots{ring="1"}')).toBe(0);
    expect(m.get('ordertail_pool_queue_size')).toBe(2);
    expect(m.get('ordertail_dedup_load_ratio')).toBeCloseTo(1 / 16, 10);
    expect(m.get('ordertail_dedup_forgotten_total')).toBe(5);
    expect(m.get('ordertail_dedup_forgotten_in_window_total')).toBe(2);
    expect(m.get('ordertail_dedup_entries')).toBe(4096);
    expect(m.get('ordertail_sink_flushes_total{sink="file"}')).toBe(17);
    expect(m.get('ordertail_stream_records_total{stream="live",outcome="duplicate"}')).toBe(3);
    expect(m.get('ordertail_stream_records_total{stream="history",outcome="emitted"}')).toBe(100);
    expect(m.get('ordertail_ready')).toBe(1);
    expect(m.has('process_cpu_user_seconds_total')).toBe(true);

    // Values are read at scrape time: more input shows up in the next scrape.
    source.feed('live', { emittedMicros: repeat(900, 10), duplicates: 1 });
    source.ready = { ok: false, reasons: ['1 of 2 parse workers up'] };
    m = parseExposition((await scrape(server)).text);
    expect(m.get('ordertail_records_emitted_total')).toBe(150);
    expect(m.get('ordertail_records_duplicate_total')).toBe(11);
    expect(m.get('ordertail_ready')).toBe(0);
  });

  it('puts known injected delays at the right quantiles of the latency summaries', async () => {
    const source = new FakeTelemetry();
    // 1000 records: 500 × 2 ms, 400 × 5 ms, 90 × 20 ms, 9 × 100 ms, 1 × 1 s.
    source.feed('live', {
      emittedMicros: [...repeat(2000, 500), ...repeat(5000, 400), ...repeat(20_000, 90), ...repeat(100_000, 9), 1_000_000],
    });
    source.hist.stage.parse.recordValueWithCount(150, 99);
    source.hist.stage.parse.recordValue(3000);
    const server = await startMetricsServer({ source, port: 0 });
    servers.push(server);
    const m = parseExposition((await scrape(server)).text);
    const q = (quantile: string): number => m.get(`ordertail_stream_latency_seconds{stream="live",quantile="${quantile}"}`)!;
    // HDR at 3 significant digits: within 0.1 %.
    expect(q('0.5')).toBeCloseTo(0.002, 5);
    expect(q('0.9')).toBeCloseTo(0.005, 5);
    expect(q('0.99')).toBeCloseTo(0.02, 4);
    expect(q('0.999')).toBeCloseTo(0.1, 3);
    expect(m.get('ordertail_stream_latency_max_seconds{stream="live"}')).toBeCloseTo(1, 2);
    expect(m.get('ordertail_stream_latency_seconds_count{stream="live"}')).toBe(1000);
    const expectedSum = (500 * 2000 + 400 * 5000 + 90 * 20_000 + 9 * 100_000 + 1_000_000) / 1e6;
    expect(Math.abs(m.get('ordertail_stream_latency_seconds_sum{stream="live"}')! - expectedSum) / expectedSum).toBeLessThan(0.002);
    // No observations: count 0 and no invented quantiles.
    expect(m.get('ordertail_stream_latency_seconds_count{stream="history"}')).toBe(0);
    expect(m.has('ordertail_stream_latency_seconds{stream="history",quantile="0.5"}')).toBe(false);
    expect(m.get('ordertail_stage_latency_seconds{stage="parse",quantile="0.5"}')).toBeCloseTo(0.00015, 6);
    expect(m.get('ordertail_stage_latency_seconds{stage="parse",quantile="0.999"}')).toBeCloseTo(0.003, 5);
  });

  it('registers into a caller registry and unregisters on close, so the registry can be reused', async () => {
    const registry = new Registry();
    const first = await startMetricsServer({ source: fedSource(), registry, port: 0 });
    expect(registry.getSingleMetric('ordertail_records_read_total')).toBeDefined();
    await first.close();
    await first.close(); // idempotent
    expect(registry.getSingleMetric('ordertail_records_read_total')).toBeUndefined();
    const second = await startMetricsServer({ source: fedSource(), registry, port: 0 });
    servers.push(second);
    expect(parseExposition((await scrape(second)).text).get('ordertail_records_emitted_total')).toBe(140);
  });

  it('a scrape taken while a real engine runs passes promtool and its counters add up (emitted + duplicates + rejected = read)', async (ctx) => {
    const dir = workdir();
    const log = join(dir, 'orders.ndjson');
    const lines: string[] = [];
    // 3000 distinct ids, every 10th record repeats an earlier id, every 97th line is junk.
    let ids = 0;
    for (let i = 0; i < 3300; i++) {
      if (i % 97 === 96) lines.push(i % 2 ? 'not json' : '[1,2]');
      else if (i % 10 === 9 && ids > 0) lines.push(JSON.stringify({ id: `o${ids - 1}`, px: i }));
      else lines.push(JSON.stringify({ id: `o${ids++}`, px: i }));
    }
    writeFileSync(log, `${lines.join('\n')}\n`);
    const junk = lines.filter((l) => !l.startsWith('{')).length;
    const dups = lines.length - junk - ids;
    const engine = new Engine({ input: log, workers: 2, sink: 'none' });
    engines.push(engine);
    await engine.start();
    const server = await startMetricsServer({ source: engine, port: 0 });
    servers.push(server);
    await until(() => engine.stats().recordsRead === lines.length, 20_000, 'all records read');
    const { text } = await scrape(server);
    const m = parseExposition(text);
    const read = m.get('ordertail_records_read_total')!;
    const rejected = [...m].filter(([k]) => k.startsWith('ordertail_records_rejected_total{')).reduce((a, [, v]) => a + v, 0);
    expect(read).toBe(lines.length);
    expect(m.get('ordertail_records_emitted_total')).toBe(ids);
    expect(m.get('ordertail_records_duplicate_total')).toBe(dups);
    expect(rejected).toBe(junk);
    expect(m.get('ordertail_records_emitted_total')! + m.get('ordertail_records_duplicate_total')! + rejected).toBe(read);
    expect(m.get('ordertail_stream_latency_seconds_count{stream="history"}')! + m.get('ordertail_stream_latency_seconds_count{stream="live"}')!).toBe(ids);
    if (PROMTOOL_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(PROMTOOL_MISSING);
    if (PROMTOOL_MISSING) ctx.skip(PROMTOOL_MISSING);
    const check = promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });
});
