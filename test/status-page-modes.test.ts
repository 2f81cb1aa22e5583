/**
 * The status page's paths card (README, "Modes"): a real engine in hybrid
 * mode on real files, watched by headless Chromium. The card must show what
 * /metrics/comparison says (the exact counts, which equal a reference computed
 * from the input) and draw the per-path charts; in legacy mode it shows the
 * batch path alone. Fails if the page does not fetch or render the comparison.
 */
import { mkdirSync, writeFileSync, appendFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLines, until, workdir } from './helpers/workdir.js';
import { Engine } from '../dist/src/index.js';
import { CHROMIUM_MISSING, launchChromium, requireChromium } from './helpers/chromium.js';

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

/** An hourly file of `count` orders, last modified `ageMs` ago. */
function hourFile(dir: string, hour: number, count: number, ageMs: number): string[] {
  const path = join(dir, `orders-${String(hour).padStart(2, '0')}.ndjson`);
  const t = Date.now() - 3_600_000 * (24 - hour);
  const lines = Array.from({ length: count }, (_, i) => `{"id":"h${hour}-${i}","timestamp":${t + i},"qty":${i}}`);
  writeFileSync(path, lines.join('\n') + '\n');
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(path, at, at);
  return lines;
}

interface CardData {
  display: string;
  data: Record<string, string>;
  rows: string[][];
  lagText: string;
  points: Record<string, number>;
}

async function card(page: Page): Promise<CardData> {
  return page.evaluate(() => {
    const c = document.getElementById('paths-card')!;
    const points: Record<string, number> = {};
    for (const id of ['c-mode-rate', 'c-mode-only', 'c-mode-lag']) points[id] = Number(document.getElementById(id)!.dataset.points ?? 0);
    return {
      display: c.style.display,
      data: { ...c.dataset } as Record<string, string>,
      rows: Array.from(document.querySelectorAll('#paths tr'), (tr) => Array.from(tr.children, (td) => td.textContent ?? '')),
      lagText: document.getElementById('paths-lag')!.textContent ?? '',
      points,
    };
  });
}

function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

describe('status page: the paths card', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (CHROMIUM_MISSING) return;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('hybrid mode: both paths side by side, the counts the engine reports, charts drawn', async (ctx) => {
    requireChromium(ctx, browser);
    const dir = workdir();
    mkdirSync(join(dir, 'out'));
    const out = join(dir, 'out', 'sink.ndjson');
    // Closed long ago and ignored by the live path: only the batch path sees them ("batch only").
    const ignored = hourFile(dir, 0, 250, 3 * 3_600_000);
    // Closed, read by both paths: the batch path's records are duplicates, with a lag.
    const both = [...hourFile(dir, 1, 300, 50 * 60_000), ...hourFile(dir, 2, 300, 40 * 60_000)];
    const liveFile = join(dir, 'orders-live.ndjson');
    writeFileSync(liveFile, '');
    let n = 0;
    const liveLines: string[] = [];
    const writer = setInterval(() => {
      const batch = Array.from({ length: 5 }, () => `{"id":"live-${n}","timestamp":${Date.now()},"qty":${n++}}`);
      liveLines.push(...batch);
      appendFileSync(liveFile, batch.join('\n') + '\n');
    }, 30);
    const engine = new Engine({
      input: join(dir, '*.ndjson'),
      mode: 'hybrid',
      batchEvery: '300ms',
      // Written every 30 ms: the live file never looks closed, the batch path leaves it alone.
      batchDelay: '1m',
      ignoreOlder: '2h',
      dedupWindow: '48h',
      sink: `file:${out}`,
      metricsPort: 0,
      workers: 2,
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems = watch(page);
    try {
      await engine.start();
      expect((await page.goto(`${engine.metricsUrl}/`))?.status()).toBe(200);
      // The batch path reads the three closed files; the writer keeps the live path busy meanwhile.
      await until(() => engine.modeComparison()!.counts.batchFiles === 3, 25_000, 'the batch path to read the 3 closed files');
      await new Promise((r) => setTimeout(r, 1500));
      clearInterval(writer);
      const unique = ignored.length + both.length + liveLines.length;
      await until(() => readLines(out).length >= unique, 20_000, 'every record in the sink');
      const c = engine.modeComparison()!.counts;
      // The reference, from the input: what each path saw first and alone.
      expect(c.batch).toEqual({ first: ignored.length, notFirst: both.length, only: ignored.length });
      expect(c.live.first).toBe(both.length + liveLines.length);
      expect(c.lagSeconds.count).toBe(both.length);

      // The page catches up with the engine on its next polls.
      await expect
        .poll(async () => (await card(page)).data, { timeout: 15_000, interval: 250 })
        .toMatchObject({
          mode: 'hybrid',
          liveFirst: String(c.live.first),
          liveNotFirst: String(c.live.notFirst),
          liveOnly: String(c.live.only),
          batchFirst: String(ignored.length),
          batchNotFirst: String(both.length),
          batchOnly: String(ignored.length),
          batchFiles: '3',
          lagCount: String(both.length),
        });
      // Several polls' points on each chart (the lag chart from the first record both paths saw).
      await expect
        .poll(async () => Math.min(...Object.values((await card(page)).points)), { timeout: 15_000, interval: 250 })
        .toBeGreaterThanOrEqual(3);
      const seen = await card(page);
      expect(seen.display).toBe('block');
      // The table as a reader sees it: path, seen, first, duplicates, seen by this path only.
      expect(seen.rows.map((r) => r.slice(0, 5))).toEqual([
        ['live', String(c.live.first + c.live.notFirst), String(c.live.first), String(c.live.notFirst), String(c.live.only)],
        ['batch', String(ignored.length + both.length), String(ignored.length), String(both.length), String(ignored.length)],
      ]);
      expect(seen.lagText).toContain(`over ${both.length} records seen by both`);
      expect(await page.textContent('#paths-mode')).toContain('3 closed file(s)');
      // The header tells the mode and the feature flags in force.
      expect(await page.$eval('#features', (e) => ({ ...(e as HTMLElement).dataset }))).toEqual({ liveLane: 'on', shadowSample: '0', canaryShare: '0' });
      expect(await page.textContent('#features')).toBe('· hybrid mode · live lane on · shadow parser off · canary parser off');
      const polls = await page.evaluate(() => (window as unknown as { ordertailStatus: { modes: { polls: number } } }).ordertailStatus.modes.polls);
      expect(polls).toBeGreaterThanOrEqual(3);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status-page-hybrid.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      clearInterval(writer);
      await page.close();
      await engine.stop();
    }
  }, 90_000);

  it('legacy mode: the batch path alone, nothing tailed', async (ctx) => {
    requireChromium(ctx, browser);
    const dir = workdir();
    mkdirSync(join(dir, 'out'));
    const out = join(dir, 'out', 'sink.ndjson');
    const lines = [...hourFile(dir, 0, 200, 3_600_000), ...hourFile(dir, 1, 120, 3_600_000)];
    const engine = new Engine({ input: join(dir, '*.ndjson'), mode: 'legacy', batchEvery: '300ms', batchDelay: '200ms', sink: `file:${out}`, metricsPort: 0, workers: 2 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems = watch(page);
    try {
      await engine.start();
      await until(() => readLines(out).length >= lines.length, 20_000, 'the closed files in the sink');
      await page.goto(`${engine.metricsUrl}/`);
      await expect
        .poll(async () => (await card(page)).data, { timeout: 15_000, interval: 250 })
        .toMatchObject({ mode: 'legacy', batchFirst: String(lines.length), batchOnly: String(lines.length), liveFirst: '' });
      await expect.poll(async () => (await card(page)).points['c-mode-rate'], { timeout: 15_000, interval: 250 }).toBeGreaterThanOrEqual(2);
      const seen = await card(page);
      expect(seen.display).toBe('block');
      expect(seen.rows[0]).toEqual(['live', 'off', '–', '–', '–', '–']);
      expect(seen.rows[1]!.slice(0, 3)).toEqual(['batch', String(lines.length), String(lines.length)]);
      expect(await page.textContent('#paths-mode')).toContain('legacy mode');
      expect(await page.$eval('#paths-lag-chart', (e) => (e as HTMLElement).style.display)).toBe('none');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await engine.stop();
    }
  }, 60_000);
});
