import { afterEach, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../dist/src/metrics/http-server.js';
import { TelemetrySampler } from '../dist/src/metrics/sampler.js';
import { FakeTelemetry, repeat } from './helpers/fake-telemetry.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

/** A server whose sampler only ticks when the test says so. */
async function serve(source: FakeTelemetry): Promise<MetricsServer> {
  const server = await startMetricsServer({ source, port: 0, sampler: { intervalMs: 3_600_000 } });
  servers.push(server);
  return server;
}

async function get<T = Record<string, unknown>>(server: MetricsServer, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(server.url + path);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: res.status, body: (await res.json()) as T };
}

const summaryShape = {
  count: expect.any(Number),
  p50: expect.any(Number),
  p90: expect.any(Number),
  p99: expect.any(Number),
  p999: expect.any(Number),
  max: expect.any(Number),
};

function fedSource(options: { splitByStream?: boolean } = {}): FakeTelemetry {
  const source = new FakeTelemetry({ ...options, startedAt: Date.now() - 5000 });
  source.fileList = [
    { path: '/logs/old.ndjson', live: false, sizeBytes: 9000, readBytes: 1000, lagBytes: 8000 },
    { path: '/logs/older.ndjson', live: false, sizeBytes: 500, readBytes: 500, lagBytes: 0 },
    { path: '/logs/new.ndjson', live: true, sizeBytes: 700, readBytes: 600, lagBytes: 100 },
  ];
  source.feed('live', { emittedMicros: repeat(800, 40), duplicates: 4, rejected: { invalid_json: 2 }, bytes: 4000 });
  source.feed('history', { emittedMicros: repeat(40_000, 100), duplicates: 6, rejected: { too_large: 1 }, bytes: 30_000 });
  return source;
}

describe('JSON endpoints', () => {
  it('binds 127.0.0.1 by default', async () => {
    const server = await serve(fedSource());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('/metrics/streaming carries the seed names with the source values', async () => {
    const server = await serve(fedSource());
    const { status, body } = await get(server, '/metrics/streaming');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      ready: true,
      not_ready_reasons: [],
      parser: 'js',
      duplicate_orders_count: 10,
      file_processing_queue_size: 2,
      memory_usage_mb: expect.any(Number),
      fast_stream_latency: { ...summaryShape, count: 40, p50: 0.8 },
      batch_stream_latency: { ...summaryShape, count: 100 },
      totals: { records_read: 153, records_emitted: 140, duplicates: 10, rejected: 3, bytes_read: 34_000, files: 3 },
      dedup: { capacity: 65_536, entries: 4096, live: 2048, load: 0.0625, forgotten: 5, forgottenInWindow: 2, bytes: 1_200_000 },
      sink: { name: 'file', flushes: 17, errors: 0 },
      rings: { capacity: 1024, occupancy: [3, 0] },
    });
    expect((body.batch_stream_latency as { p50: number }).p50).toBeCloseTo(40, 0);
    expect(body.memory_usage_mb).toBeGreaterThan(10);
    // Everything happened in the ~5 s since startedAt: 140 emitted → about 28/s.
    expect(body.orders_per_second).toBeGreaterThan(20);
    expect(body.orders_per_second).toBeLessThanOrEqual(28);
    expect(body.rate_window_seconds).toBeGreaterThanOrEqual(5);
  });

  it('/metrics/latency gives per-stream and per-stage percentiles in ms', async () => {
    const source = fedSource();
    source.hist.stage.sinkWrite.recordValueWithCount(250, 9);
    source.hist.stage.sinkWrite.recordValue(12_000);
    const server = await serve(source);
    // Before the sampler's first interval there is no last interval to show.
    expect((await get(server, '/metrics/latency')).body).toMatchObject({ fast_stream_latency: { count: 40 }, last_interval: null });
    server.sampler.tick();
    const { body } = await get(server, '/metrics/latency');
    expect(body).toMatchObject({
      unit: 'ms',
      fast_stream_latency: { count: 40, p50: 0.8, max: 0.8 },
      batch_stream_latency: { count: 100 },
      stages: {
        parse: { count: 0 },
        ring_wait: { count: 0 },
        dedup: { count: 0 },
        sink_write: { count: 10, p50: 0.25, p90: 0.25 },
      },
      last_interval: { interval_ms: expect.any(Number), fast_stream_latency: summaryShape, batch_stream_latency: summaryShape },
    });
    const stages = body.stages as Record<string, { p99: number }>;
    expect(stages.sink_write!.p99).toBeCloseTo(12, 1);
  });

  it('/metrics/comparison sets the live stream beside the history stream', async () => {
    const server = await serve(fedSource());
    const { body } = await get<Record<string, Record<string, unknown>>>(server, '/metrics/comparison');
    expect(body.live).toMatchObject({
      stream: 'live',
      role: 'fast',
      records_emitted: 40,
      duplicate_orders_count: 4,
      rejected: 2,
      files: 1,
      lag_bytes: 100,
      latency: { count: 40, p50: 0.8 },
    });
    expect(body.history).toMatchObject({ stream: 'history', role: 'batch', records_emitted: 100, duplicate_orders_count: 6, rejected: 1, files: 2, lag_bytes: 8000 });
    expect(body.live!.orders_per_second).toBeLessThan(body.history!.orders_per_second as number);
    expect(body.live!.duplicates_per_second).toBeGreaterThan(0);
    expect(body.fast_stream_latency).toEqual(body.live!.latency);
    expect(body.batch_stream_latency).toEqual(body.history!.latency);
    expect(body.speedup!.p50).toBeCloseTo(50, 0);
  });

  it('without per-stream counts, per-stream emitted comes from the histograms and the rest is null', async () => {
    const server = await serve(fedSource({ splitByStream: false }));
    const { body } = await get<Record<string, Record<string, unknown>>>(server, '/metrics/comparison');
    expect(body.live).toMatchObject({ records_emitted: 40, duplicate_orders_count: null, rejected: null, duplicates_per_second: null });
    expect(body.history).toMatchObject({ records_emitted: 100, rejects_per_second: null });
  });

  it('/metrics/files lists live files first, then by lag', async () => {
    const server = await serve(fedSource());
    const { body } = await get(server, '/metrics/files');
    expect(body).toEqual({
      count: 3,
      total_lag_bytes: 8100,
      files: [
        { path: '/logs/new.ndjson', stream: 'live', size_bytes: 700, read_bytes: 600, lag_bytes: 100 },
        { path: '/logs/old.ndjson', stream: 'history', size_bytes: 9000, read_bytes: 1000, lag_bytes: 8000 },
        { path: '/logs/older.ndjson', stream: 'history', size_bytes: 500, read_bytes: 500, lag_bytes: 0 },
      ],
    });
  });

  it('/metrics/series holds one point per tick with that interval’s rates and latencies only', async () => {
    const source = fedSource();
    const server = await serve(source);
    // No point before the first interval has passed.
    expect((await get<{ points: unknown[] }>(server, '/metrics/series')).body.points).toEqual([]);
    const t0 = server.sampler.tick().t;
    source.feed('live', { emittedMicros: repeat(2000, 50), duplicates: 5 });
    server.sampler.tick(t0 + 1000);
    source.feed('live', { emittedMicros: repeat(50_000, 20), rejected: { invalid_json: 3 } });
    server.sampler.tick(t0 + 3000);
    const { body } = await get<{ interval_ms: number; capacity: number; points: Array<Record<string, any>> }>(server, `/metrics/series?since=${t0}`);
    expect(body.interval_ms).toBe(3_600_000);
    expect(body.points.map((p) => p.t)).toEqual([t0 + 1000, t0 + 3000]);
    const [a, b] = body.points;
    expect(a).toMatchObject({ interval_ms: 1000, orders_per_second: 50, duplicates_per_second: 5, rejects_per_second: 0 });
    expect(a!.live).toMatchObject({ orders_per_second: 50, duplicates_per_second: 5, latency_ms: { count: 50, p50: 2 } });
    expect(a!.history).toMatchObject({ orders_per_second: 0, latency_ms: { count: 0 } });
    expect(b).toMatchObject({ interval_ms: 2000, orders_per_second: 10, rejects_per_second: 1.5, lag_bytes: 8100 });
    expect(b!.live.latency_ms.count).toBe(20);
    expect(b!.live.latency_ms.p50).toBeCloseTo(50, 0);
    expect((await fetch(`${server.url}/metrics/series?since=soon`)).status).toBe(400);
  });

  it('the sampler keeps at most `capacity` points and rates cover the configured window', () => {
    const source = new FakeTelemetry({ startedAt: 0 });
    const sampler = new TelemetrySampler(source, { intervalMs: 1000, capacity: 5, rateWindowMs: 3000 });
    for (let s = 1; s <= 10; s++) {
      source.feed('history', { emittedMicros: repeat(100, s * 10) }); // 10, 20, … 100 records at second s
      sampler.tick(s * 1000);
    }
    expect(sampler.series().map((p) => p.t)).toEqual([6000, 7000, 8000, 9000, 10_000]);
    expect(sampler.series()[4]!.orders_per_second).toBe(100);
    // Over seconds 7..10: (80 + 90 + 100) / 3 s.
    expect(sampler.rates(10_000).orders_per_second).toBe(90);
    expect(() => new TelemetrySampler(source, { intervalMs: 0 })).toThrow(expect.objectContaining({ code: 'ORDERTAIL_METRICS_OPTION' }));
  });

  it('/healthz is 200 while alive; /readyz follows readiness() with reasons', async () => {
    const source = fedSource();
    const server = await serve(source);
    expect(await get(server, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get(server, '/readyz')).toEqual({ status: 200, body: { ready: true, reasons: [] } });
    source.ready = { ok: false, reasons: ['1 of 2 parse workers up', 'sink file reported 1 write error(s)'] };
    expect(await get(server, '/readyz')).toEqual({
      status: 503,
      body: { ready: false, reasons: ['1 of 2 parse workers up', 'sink file reported 1 write error(s)'] },
    });
    source.readiness = () => {
      throw new Error('pool gone');
    };
    expect(await get(server, '/readyz')).toEqual({ status: 503, body: { ready: false, reasons: ['readiness check failed: pool gone'] } });
    expect((await get(server, '/healthz')).status).toBe(200);
  });

  it('answers unknown paths with 404, other methods with 405, both with a code', async () => {
    const server = await serve(fedSource());
    expect(await get(server, '/nope')).toMatchObject({ status: 404, body: { code: 'ORDERTAIL_HTTP_NOT_FOUND' } });
    const res = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.json()).toMatchObject({ code: 'ORDERTAIL_HTTP_METHOD_NOT_ALLOWED' });
  });

  it('a source that fails answers 500 with a code, and the server keeps serving', async () => {
    const source = fedSource();
    const server = await serve(source);
    source.stats = () => {
      throw Object.assign(new Error('counters unavailable'), { code: 'ERR_TEST_BROKEN' });
    };
    expect(() => server.sampler.tick()).toThrow('counters unavailable');
    expect(await get(server, '/metrics/streaming')).toEqual({ status: 500, body: { error: 'counters unavailable', code: 'ERR_TEST_BROKEN' } });
    expect((await fetch(`${server.url}/metrics`)).status).toBe(500);
    expect((await get(server, '/healthz')).status).toBe(200);
    expect((await get(server, '/metrics/files')).status).toBe(200);
  });

  it('rejects a bad port and a port in use with stable codes', async () => {
    await expect(startMetricsServer({ source: fedSource(), port: 70_000 })).rejects.toMatchObject({ code: 'ORDERTAIL_METRICS_OPTION', option: 'port' });
    const server = await serve(fedSource());
    const port = Number(new URL(server.url).port);
    await expect(startMetricsServer({ source: fedSource(), port })).rejects.toMatchObject({ code: 'ORDERTAIL_METRICS_LISTEN' });
  });
});
