/**
 * A log writer for bench/postgres-dashboard.ts, in its own process so that
 * building and appending 20,000 lines a second does not delay the dashboard
 * client's timers (that would show up as query latency).
 *
 *   node dist/bench/pg-order-writer.js LOG RATE SECONDS
 *
 * Appends RATE orders/s (a batch every 10 ms, catching up after a slow tick)
 * stamped with the current time, for SECONDS, then prints the count on stdout.
 */
import { appendFileSync } from 'node:fs';
import { orderJson } from './pg-orders.js';

const [log, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
if (!log || !(rate > 0) || !(seconds > 0)) throw new Error('usage: pg-order-writer LOG RATE SECONDS');

const TICK_MS = 10;
let written = 0;
const t0 = performance.now();
for (;;) {
  const elapsed = performance.now() - t0;
  if (elapsed >= seconds * 1000) break;
  const due = Math.floor((rate * elapsed) / 1000);
  if (due > written) {
    const now = Date.now();
    const lines: string[] = [];
    for (; written < due; written++) lines.push(orderJson(`w-${written}`, written, now));
    appendFileSync(log, `${lines.join('\n')}\n`);
  }
  await new Promise((r) => setTimeout(r, TICK_MS));
}
process.stdout.write(`${written}\n`);
