/**
 * The broadcaster's Prometheus metrics through the engine's /metrics:
 * clients, subscriptions, frames and bytes, drops by policy, disconnects by
 * reason, refusals, and the emit → socket fan-out latency (HDR summary);
 * `promtool check metrics` accepts the exposition.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { parseExposition } from './helpers/fake-telemetry.js';
import { connect, handshakeStatus } from './helpers/ws-client.js';
import { readLines, workdir } from './helpers/workdir.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });

describe('ws metrics', () => {
  it('counts clients, subscriptions, frames, bytes, disconnects and refusals, and the fan-out latency', async () => {
    const dir = workdir();
    const input = join(dir, 'live.ndjson');
    const out = join(dir, 'out.ndjson');
    writeFileSync(input, '');
    const engine = new Engine({ input, sink: `file:${out}`, wsPort: 0, metricsPort: 0, workers: 1 });
    await engine.start();
    try {
      const all = await connect(engine.wsUrl!);
      const eth = await connect(engine.wsUrl! + '?symbols=ETH/USDT');
      const leaving = await connect(engine.wsUrl!);
      expect(await handshakeStatus(engine.wsUrl!, { origin: 'https://evil.example' })).toBe(403);
      leaving.close();
      appendFileSync(input, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: i, symbol: i % 2 ? 'ETH/USDT' : 'BTC/USDT' })).join('\n') + '\n');
      await all.until(() => all.records.length === 100);
      await eth.until(() => eth.records.length === 50);
      expect(readLines(out)).toHaveLength(100);
      // Counts reach the engine's thread about once a second.
      let text = '';
      await expect
        .poll(async () => {
          text = await (await fetch(`${engine.metricsUrl}/metrics`)).text();
          return parseExposition(text).get('ordertail_ws_records_sent_total');
        }, { timeout: 10_000, interval: 300 })
        .toBe(150);
      const m = parseExposition(text);
      expect(m.get('ordertail_ws_clients')).toBe(2);
      expect(m.get('ordertail_ws_subscriptions')).toBe(1);
      expect(m.get('ordertail_ws_subscribe_requests_total')).toBe(1);
      expect(m.get('ordertail_ws_records_in_total')).toBe(100);
      expect(m.get('ordertail_ws_frames_sent_total')).toBeGreaterThanOrEqual(5);
      expect(m.get('ordertail_ws_bytes_sent_total')).toBeGreaterThan(100 * 30);
      expect(m.get('ordertail_ws_disconnects_total{reason="client"}')).toBe(1);
      expect(m.get('ordertail_ws_refused_total{reason="origin"}')).toBe(1);
      expect(m.get('ordertail_ws_fanout_latency_seconds_count{endpoint="ws"}')).toBe(150);
      const p99 = m.get('ordertail_ws_fanout_latency_seconds{endpoint="ws",quantile="0.99"}')!;
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThan(5);
      if (!promtool.error) {
        const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
        expect(check.status).toBe(0);
      }
      all.close();
      eth.close();
    } finally {
      await engine.stop();
    }
  });
});
