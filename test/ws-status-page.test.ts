/**
 * The status page's live view over the broadcaster, in headless Chromium:
 * it finds the endpoint (metrics/broadcast), connects from the page's origin
 * (allowed by default, and by the page's CSP), and shows the newest records
 * and per-symbol rates. With a token, the page takes it from its fragment.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broadcaster } from '../dist/src/broadcast/broadcaster.js';
import { startMetricsServer, type MetricsServer } from '../dist/src/metrics/http-server.js';
import { FakeTelemetry } from './helpers/fake-telemetry.js';
import { batch, startBroadcaster } from './helpers/ws-client.js';
import { CHROMIUM_MISSING, launchChromium, requireChromium } from './helpers/chromium.js';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const HOSTILE = '<img src=x onerror="window.pwned=1">';

interface StreamView {
  state: string;
  records: number;
  lastSeq: number;
  rates: Record<string, number>;
}

/** The engine's telemetry, plus the broadcaster's endpoint as the Engine reports it. */
class BroadcastingTelemetry extends FakeTelemetry {
  constructor(private readonly b: Broadcaster) {
    super({ startedAt: Date.now() - 2000 });
  }

  broadcastEndpoint(): { port: number; tokenRequired: boolean } {
    return { port: this.b.port, tokenRequired: this.b.tokenRequired };
  }
}

describe('status page live stream', () => {
  let browser: Browser | undefined;
  const running: Array<{ b: Broadcaster; server: MetricsServer; feeder: NodeJS.Timeout }> = [];

  /** A broadcaster fed at ~300 records/s: BTC twice as often as ETH, one record with markup in it. */
  async function serve(token?: string): Promise<MetricsServer> {
    if (token) process.env.ORDERTAIL_TEST_PAGE_TOKEN = token;
    const b = await startBroadcaster(token ? { token: { env: 'ORDERTAIL_TEST_PAGE_TOKEN' } } : {});
    let i = 0;
    const feeder = setInterval(() => {
      const recs = Array.from({ length: 30 }, () => {
        i++;
        return { id: i, type: 'trade', symbol: i % 3 === 0 ? 'ETH/USDT' : 'BTC/USDT', price: 100 + i, note: i === 5 ? HOSTILE : '' };
      });
      b.offer([batch(recs)]);
    }, 100);
    const server = await startMetricsServer({ source: new BroadcastingTelemetry(b), port: 0, sampler: { intervalMs: 200 } });
    running.push({ b, server, feeder });
    return server;
  }

  beforeAll(async () => {
    if (CHROMIUM_MISSING) return;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    for (const r of running) {
      clearInterval(r.feeder);
      await r.server.close();
      await r.b.close();
    }
    delete process.env.ORDERTAIL_TEST_PAGE_TOKEN;
  });

  async function open(url: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(url);
    return { page, problems };
  }

  const view = (page: Page): Promise<StreamView> => page.evaluate(() => (window as unknown as { ordertailStatus: { stream: StreamView } }).ordertailStatus.stream);

  it('shows the newest records and per-symbol rates over the WebSocket', async (ctx) => {
    requireChromium(ctx, browser);
    const server = await serve();
    const { page, problems } = await open(`${server.url}/`);
    await expect.poll(async () => (await view(page)).state, { timeout: 20_000 }).toBe('connected');
    // Rates are over whole seconds: wait for a few of them.
    await expect.poll(async () => Object.keys((await view(page)).rates).length, { timeout: 20_000 }).toBe(2);
    await expect.poll(async () => (await view(page)).rates['BTC/USDT'] ?? 0, { timeout: 20_000, interval: 500 }).toBeGreaterThan(100);
    const v = await view(page);
    // Twice as many BTC as ETH records, at ~300 records/s in all (a loaded machine feeds slower).
    expect(v.rates['BTC/USDT']! / v.rates['ETH/USDT']!).toBeGreaterThan(1.5);
    expect(v.rates['BTC/USDT']! / v.rates['ETH/USDT']!).toBeLessThan(2.5);
    expect(v.rates['BTC/USDT']! + v.rates['ETH/USDT']!).toBeLessThan(400);
    const symbols = await page.$$eval('#stream-rates tr', (trs) => trs.map((tr) => tr.children[0]!.textContent));
    expect(symbols).toEqual(['BTC/USDT', 'ETH/USDT']);
    const newest = await page.$$eval('#stream-newest tr', (trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent ?? '')));
    expect(newest.length).toBe(15);
    const seqs = newest.map((r) => Number(r[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    // The table is redrawn once a second: its newest is at most a second behind.
    expect(seqs[0]).toBeLessThanOrEqual((await view(page)).lastSeq);
    expect(seqs[0]).toBeGreaterThan(100);
    expect(newest[0]![2]).toContain('"type":"trade"');
    expect(await page.textContent('#stream-state')).toMatch(/^connected · /);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-stream.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('with a token: without it in the fragment the page says so; with it, it streams', async (ctx) => {
    requireChromium(ctx, browser);
    const server = await serve('page-token-42');
    const refused = await open(`${server.url}/`);
    await expect.poll(async () => (await view(refused.page)).state, { timeout: 20_000 }).toMatch(/token is required/);
    await refused.page.close();
    const { page } = await open(`${server.url}/#ws-token=page-token-42`);
    await expect.poll(async () => (await view(page)).records, { timeout: 20_000 }).toBeGreaterThan(50);
    await page.close();
  });
});
