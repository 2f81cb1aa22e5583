/**
 * Appends order records to a file at a steady rate, stamping each with
 * process.hrtime (CLOCK_MONOTONIC, comparable across processes on one machine).
 * Usage: node latency-writer.js FILE RECORDS_PER_SEC SECONDS
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const [file, rateArg, secondsArg] = process.argv.slice(2) as [string, string, string];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const fd = openSync(file, 'a');
const pad = 'x'.repeat(160);
const start = process.hrtime.bigint();
let sent = 0;
const total = rate * seconds;

function tick(): void {
  const now = process.hrtime.bigint();
  const due = Math.min(total, Math.floor((Number(now - start) / 1e9) * rate));
  if (due > sent) {
    let chunk = '';
    const stamp = process.hrtime.bigint().toString();
    const ts = Date.now();
    for (; sent < due; sent++) {
      chunk += `{"id":"w${sent}","timestamp":${ts},"t0":"${stamp}","symbol":"BTC/USDT","side":"buy","price":64000.5,"pad":"${pad}"}\n`;
    }
    writeSync(fd, chunk);
  }
  if (sent < total) setTimeout(tick, 1);
  else {
    closeSync(fd);
    process.stdout.write(JSON.stringify({ sent }) + '\n');
  }
}
tick();
