/**
 * A day of hourly files replayed while the live file grows, and the batch
 * job's copies of the last hour's orders written into the live file minutes
 * later (same bytes, same event times): every order exactly once. Follow mode,
 * real files, real workers; the table sized as the README advises (10x keys).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { multisetDiff } from './helpers/order-logs.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const HOUR = 3_600_000;
const DAY_START = 1_760_000_000_000;
const PER_HOUR = 400;

const order = (id: string, t: number): string =>
  JSON.stringify({ id, timestamp: t, symbol: 'BTC/USDT', side: id.length % 2 ? 'buy' : 'sell', price: 64_000 + (t % 1000), note: 'Genève → 東京' });

describe('a day of hourly files beside a growing live file', () => {
  it('emits every order once, including the batch copies of the last hour written into the live file later', async () => {
    const dir = workdir();
    const expected: string[] = [];
    const lastHour: string[] = [];
    for (let h = 0; h < 24; h++) {
      const lines: string[] = [];
      for (let i = 0; i < PER_HOUR; i++) {
        const line = order(`h${h}-${i}`, DAY_START + h * HOUR + Math.floor((i / PER_HOUR) * HOUR));
        lines.push(line);
        expected.push(line);
        if (h === 23) lastHour.push(line);
      }
      writeFileSync(join(dir, `orders-${String(h).padStart(2, '0')}.ndjson`), lines.join('\n') + '\n');
    }
    const live = join(dir, 'orders-live.ndjson');
    writeFileSync(live, '');
    const out = join(dir, 'out.ndjson');
    const liveOrders = 600;
    const engine = new Engine({
      input: join(dir, '*.ndjson'),
      sink: `file:${out}`,
      workers: 2,
      rangeBytes: 16_384,
      dedupCapacity: (24 * PER_HOUR + liveOrders) * 10,
    });
    const errors: Error[] = [];
    engine.on('error', (e) => errors.push(e));
    await engine.start();
    // The live file grows while history replays: 20 orders every 5 ms, times after the day.
    let written = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const batch: string[] = [];
        for (let i = 0; i < 20 && written < liveOrders; i++, written++) {
          const line = order(`live-${written}`, DAY_START + 24 * HOUR + written * 10);
          batch.push(line);
          expected.push(line);
        }
        appendFileSync(live, batch.join('\n') + '\n');
        if (written >= liveOrders) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    // "Minutes later" the batch job re-sends the last hour into the live file.
    await until(() => readLines(out).length >= expected.length, 20_000, 'history and live orders');
    for (let i = 0; i < lastHour.length; i += 50) appendFileSync(live, lastHour.slice(i, i + 50).join('\n') + '\n');
    await until(() => engine.stats().recordsRead >= expected.length + lastHour.length, 20_000, 'the re-sent copies to be read');
    await engine.stop();
    expect(errors).toEqual([]);
    const diff = multisetDiff(readLines(out), expected);
    expect(diff).toMatchObject({ missing: 0, extra: 0 });
    expect(engine.stats()).toMatchObject({ duplicates: lastHour.length, dedupForgotten: 0 });
  });
});
