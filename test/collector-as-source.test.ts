import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { mockExchange } from './fixtures/mock-exchange/harness.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const BIN = resolve(import.meta.dirname, '../bin/ordertail.js');

const collectorSection = (url: string) => ({
  exchanges: [
    { id: 'binanceusdm', baseUrl: url },
    { id: 'bybit', baseUrl: url, funding: false },
  ],
  interval: '100ms',
  rateLimit: false,
  timeout: { initial: '1s', min: '200ms', max: '2s' },
  shutdownTimeout: '3s',
});

describe('the collector inside run', () => {
  it('--once: one poll of every exchange goes through dedup into the sink', async () => {
    const mock = await mockExchange();
    const dir = workdir();
    const sink = join(dir, 'out.ndjson');
    const engine = new Engine({
      once: true,
      workers: 1,
      sink: `file:${sink}`,
      collector: collectorSection(mock.url),
      collectorLog: join(dir, 'collector.ndjson'),
    });
    await engine.start();
    await engine.finished();
    await engine.stop();
    const records = readLines(sink).map((l) => JSON.parse(l) as { type: string; exchange: string; symbol: string; id: string });
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.exchange))).toEqual(new Set(['binanceusdm', 'bybit']));
    expect(records.some((r) => r.type === 'ticker')).toBe(true);
    expect(records.some((r) => r.type === 'funding' && r.exchange === 'binanceusdm')).toBe(true);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
  });

  it('following: collector records keep arriving, and unchanged ones are not re-emitted', async () => {
    const mock = await mockExchange();
    const dir = workdir();
    const sink = join(dir, 'out.ndjson');
    const engine = new Engine({ workers: 1, sink: `file:${sink}`, collector: collectorSection(mock.url), collectorLog: join(dir, 'collector.ndjson') });
    await engine.start();
    try {
      const parsed = () => readLines(sink).map((l) => JSON.parse(l) as { type: string; exchange: string; symbol: string });
      await until(() => new Set(parsed().map((r) => r.exchange)).size === 2, 15_000, 'records from both exchanges');
      // ~10 more cycles: the mock's prices do not move, so every (exchange, type,
      // symbol) must still appear exactly once — later cycles are suppressed as unchanged.
      await new Promise((r) => setTimeout(r, 1000));
      const keys = parsed().map((r) => `${r.exchange}|${r.type}|${r.symbol}`);
      expect(keys.length).toBeGreaterThan(2);
      expect(new Set(keys).size).toBe(keys.length);
    } finally {
      await engine.stop();
    }
  });
});

describe('ordertail collect', () => {
  it('writes NDJSON records to stdout and exits 0 on SIGTERM', async () => {
    const mock = await mockExchange();
    const child = spawn(process.execPath, [BIN, 'collect', '--exchange', 'binanceusdm', '--base-url', mock.url, '--no-rate-limit', '--interval', '200ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    const first = JSON.parse(out.split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ exchange: 'binanceusdm' });
    expect(['ticker', 'funding']).toContain(first.type);
  });
});
