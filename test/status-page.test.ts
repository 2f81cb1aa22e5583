import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../dist/src/metrics/http-server.js';
import { FakeTelemetry } from './helpers/fake-telemetry.js';
import { CHROMIUM_MISSING, launchChromium, requireChromium } from './helpers/chromium.js';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const CHARTS = ['c-rate', 'c-dup', 'c-rej', 'c-lag', 'c-lat-live', 'c-lat-hist'];
const HOSTILE_PATH = '/logs/<img src=x onerror="window.pwned=1">.ndjson';

/** Deterministic pseudo-random numbers, so every run draws the same kind of traffic. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
}

describe('status page', () => {
  let browser: Browser | undefined;
  let server: MetricsServer;
  let feeder: NodeJS.Timeout;

  beforeAll(async () => {
    if (CHROMIUM_MISSING) return;
    const source = new FakeTelemetry({ startedAt: Date.now() - 2000 });
    source.fileList = [
      { path: '/logs/orders-2026-11-25.ndjson', live: true, sizeBytes: 1 << 20, readBytes: (1 << 20) - 2048, lagBytes: 2048 },
      { path: '/logs/orders-2026-11-24.ndjson', live: false, sizeBytes: 64 << 20, readBytes: 8 << 20, lagBytes: 56 << 20 },
      { path: HOSTILE_PATH, live: false, sizeBytes: 4096, readBytes: 4096, lagBytes: 0 },
    ];
    const rnd = lcg(42);
    // Traffic while the page watches: live records in a few ms, history in tens of ms,
    // some duplicates and rejects, history lag shrinking.
    const feed = (): void => {
      const live = Array.from({ length: 40 + Math.floor(rnd() * 40) }, () => 500 + rnd() * (rnd() < 0.02 ? 40_000 : 4000));
      const history = Array.from({ length: 200 + Math.floor(rnd() * 100) }, () => 20_000 + rnd() * 150_000);
      source.feed('live', { emittedMicros: live, duplicates: Math.floor(rnd() * 6), rejected: rnd() < 0.3 ? { invalid_json: 1 } : {} });
      source.feed('history', { emittedMicros: history, duplicates: Math.floor(rnd() * 30), rejected: rnd() < 0.5 ? { too_large: 1 } : {} });
      const hist = source.fileList[1]!;
      hist.readBytes = Math.min(hist.sizeBytes, hist.readBytes + (256 << 10));
      hist.lagBytes = hist.sizeBytes - hist.readBytes;
    };
    feed();
    feeder = setInterval(feed, 50);
    server = await startMetricsServer({ source, port: 0, sampler: { intervalMs: 200 } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    clearInterval(feeder);
    await server?.close();
  });

  it('loads without console errors, draws every chart with data and lists the files', async (ctx) => {
    requireChromium(ctx, browser);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) external.push(r.url());
    });

    const res = await page.goto(`${server.url}/`);
    expect(res?.status()).toBe(200);
    // Enough samples for lines, not single dots: a few seconds of 200 ms ticks.
    await expect
      .poll(() => page.evaluate(() => (window as unknown as { ordertailStatus: { pointsDrawn: Record<string, number> } }).ordertailStatus.pointsDrawn), {
        timeout: 20_000,
        interval: 250,
      })
      .toMatchObject(Object.fromEntries(CHARTS.map((id) => [id, expect.any(Number)])));
    await expect
      .poll(() => page.evaluate((ids) => Math.min(...ids.map((id) => Number(document.getElementById(id)!.dataset.points ?? 0))), CHARTS), {
        timeout: 20_000,
        interval: 250,
      })
      .toBeGreaterThanOrEqual(15);

    // Each canvas has coloured line pixels inside its plot area (not just axes and labels).
    const inked = await page.evaluate((ids) => {
      return ids.map((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const ctx2d = c.getContext('2d')!;
        const dpr = window.devicePixelRatio || 1;
        const x0 = Math.round(56 * dpr);
        const y0 = Math.round(24 * dpr);
        const { data } = ctx2d.getImageData(x0, y0, c.width - x0 - Math.round(12 * dpr), c.height - y0 - Math.round(24 * dpr));
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
          if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
        return coloured;
      });
    }, CHARTS);
    for (const [i, n] of inked.entries()) expect(n, `coloured pixels in ${CHARTS[i]}`).toBeGreaterThan(100);

    const rows = await page.$$eval('#files tr', (trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual(['/logs/orders-2026-11-25.ndjson', '/logs/orders-2026-11-24.ndjson', HOSTILE_PATH]);
    expect(rows[0]![1]).toBe('live');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.textContent('#ready')).toBe('ready');
    expect(await page.textContent('#tiles')).toContain('orders / s');
    // Realtime mode (a source that tells no mode): one path, no paths card.
    expect(await page.$eval('#paths-card', (e) => (e as HTMLElement).style.display)).toBe('none');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
