import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, until, workdir } from './helpers/workdir.js';

describe('metrics served by a running engine', () => {
  it('metricsPort starts the server: Prometheus text, seed JSON names, health and readiness, per-stream counts', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '{"id":1}\n{"id":1}\nnope\n');
    const sink = join(dir, 'out.ndjson');
    const engine = new Engine({ input: log, sink: `file:${sink}`, workers: 1, metricsPort: 0 });
    await engine.start();
    try {
      const url = engine.metricsUrl!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await until(() => readLines(sink).length === 1, 10_000, 'history');
      appendFileSync(log, '{"id":2}\n{"id":2}\n');
      await until(() => readLines(sink).length === 2, 10_000, 'live growth');
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toMatch(/^ordertail_records_read_total\S* 5$/m);
      expect(text).toMatch(/^ordertail_records_duplicate_total\S* 2$/m);
      const streaming = (await (await fetch(`${url}/metrics/streaming`)).json()) as Record<string, unknown>;
      for (const key of ['orders_per_second', 'duplicate_orders_count', 'memory_usage_mb', 'file_processing_queue_size']) {
        expect(streaming).toHaveProperty(key);
      }
      const comparison = JSON.stringify(await (await fetch(`${url}/metrics/comparison`)).json());
      expect(comparison).toContain('fast_stream_latency');
      expect(comparison).toContain('batch_stream_latency');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const streams = engine.streamCounts();
      expect(streams.history).toMatchObject({ read: 3, emitted: 1, duplicates: 1, rejected: 1 });
      expect(streams.live).toMatchObject({ read: 2, emitted: 1, duplicates: 1, rejected: 0 });
      expect(engine.files()).toEqual([{ path: log, live: true, sizeBytes: 41, readBytes: 41, lagBytes: 0 }]);
    } finally {
      await engine.stop();
    }
    expect(engine.readiness().ok).toBe(false);
  });
});
