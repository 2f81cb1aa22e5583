/**
 * stop(): no new cycles or retries; requests already sent finish (or time
 * out) and their records are written; requests still queued are dropped.
 * The `collect` command does the same on SIGTERM and exits 0.
 */
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';
import { collector, fastConfig, mockExchange, sleep, until } from './fixtures/mock-exchange/harness.js';

const CLI = resolve(import.meta.dirname, 'fixtures/mock-exchange/collect-cli.mjs');

describe('Collector.stop()', () => {
  it('lets an in-flight request finish and writes its records, then sends nothing more', async () => {
    const mock = await mockExchange({ latencyMs: 250 });
    const { collector: c, records } = collector(fastConfig([{ id: 'bybit', baseUrl: mock.url }], { interval: '50ms', timeout: { initial: '2s', min: '1s', max: '2s' } }));
    await c.start();
    await until(() => mock.count('/v5/market/tickers') > 0); // markets loaded, tickers and funding in flight
    const stopping = performance.now();
    await c.stop();
    expect(performance.now() - stopping).toBeGreaterThan(100);
    expect(records.map((r) => r.type).sort()).toEqual(['funding', 'funding', 'funding', 'ticker', 'ticker', 'ticker']);
    const sent = mock.count();
    await sleep(300);
    expect(mock.count()).toBe(sent);
  });

  it('cuts a backoff wait short instead of waiting it out', async () => {
    const mock = await mockExchange();
    const config = fastConfig([{ id: 'binanceusdm', baseUrl: mock.url }], { retry: { attempts: 5, baseDelay: '20s', maxDelay: '20s' } });
    const { collector: c } = collector(config);
    mock.inject({ fault: { kind: 'status', status: 503 } });
    await c.start();
    await until(() => mock.count() > 0);
    await sleep(50);
    const stopping = performance.now();
    await c.stop();
    expect(performance.now() - stopping).toBeLessThan(1000);
  });

  it('drops requests still waiting for a concurrency slot', async () => {
    const mock = await mockExchange({ latencyMs: 200 });
    const exchanges = ['a', 'b', 'c'].map((n) => ({ id: 'binanceusdm', name: `binance-${n}`, baseUrl: mock.url }));
    const { collector: c } = collector(fastConfig(exchanges, { concurrency: 1 }));
    await c.start();
    await until(() => mock.count() === 1);
    await c.stop();
    expect(mock.count()).toBe(1); // the two queued markets loads never went out
  });
});

describe('ordertail collect (process)', () => {
  const run = (args: string[]) => spawn(process.execPath, [CLI, 'collect', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = (child: ReturnType<typeof run>): Promise<{ code: number | null; stderr: string; stdout: string }> =>
    new Promise((done) => {
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('exit', (code) => done({ code, stderr, stdout }));
    });

  it('on SIGTERM: finishes, flushes the file sink, exits 0', async () => {
    const mock = await mockExchange({ latencyMs: 5 });
    const out = join(workdir(), 'collected.ndjson');
    const child = run(['-e', 'binanceusdm', '-e', 'bybit', '--base-url', mock.url, '--interval', '100ms', '--no-rate-limit', '--sink', `file:${out}`]);
    const exited = exit(child);
    await until(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 12, 20_000);
    child.kill('SIGTERM');
    const { code, stderr } = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(12); // first cycle: 2 exchanges × 2 types × 3 symbols; nothing changed after
    expect(new Set(lines.map((l) => (JSON.parse(l) as { exchange: string }).exchange))).toEqual(new Set(['binanceusdm', 'bybit']));
  });

  it('--once: one cycle to stdout, exit 0', async () => {
    const mock = await mockExchange();
    const { code, stdout } = await exit(run(['-e', 'bybit', '--base-url', mock.url, '--once', '--symbols', 'BTC/USDT:USDT']));
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { type: string }).type).sort()).toEqual(['funding', 'ticker']);
  });

  it.each([
    [['-e', 'nosuchexchange', '--once'], /'nosuchexchange' is not a ccxt exchange id/],
    [['--once'], /nothing to poll: name the exchanges \(ordertail collect --exchange binanceusdm --exchange bybit\)/],
    [['-e', 'bybit', '--interval', 'often'], /interval.*'often'/],
    [['-e', 'bybit', '--sink', 'kafka'], /--sink.*got 'kafka'$/m],
    [['-e', 'bybit', '--profile', 'staging'], /staging/],
  ])('usage error %j → exit 2, one line', async (args, message) => {
    const { code, stderr, stdout } = await exit(run(args));
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
  });
});
