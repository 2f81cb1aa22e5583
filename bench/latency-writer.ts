/**
 * Appends order records to a file at a steady rate, in batches every BATCH_MS,
 * stamping each batch with process.hrtime (CLOCK_MONOTONIC, comparable across
 * processes on one machine) just before it is written. Half of the records
 * carry non-ASCII text, as production order logs do.
 * Usage: node latency-writer.js FILE RECORDS_PER_SEC SECONDS [BATCH_MS=1]
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const [file, rateArg, secondsArg, batchArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const batchMs = Number(batchArg ?? 1);
const fd = openSync(file, 'a');
const NOTES = ['"note":"Zürich desk, Größe geprüft",', '"note":"東京デスク 約定",', '', ''];
const start = process.hrtime.bigint();
let sent = 0;
const total = rate * seconds;

function tick(): void {
  const now = process.hrtime.bigint();
  const due = Math.min(total, Math.floor((Number(now - start) / 1e9) * rate));
  if (due > sent) {
    let chunk = '';
    const ts = Date.now();
    const stamp = process.hrtime.bigint().toString();
    for (; sent < due; sent++) {
      chunk += `{"id":"w${sent}","timestamp":${ts},${NOTES[sent & 3]}"t0":"${stamp}","symbol":"BTC/USDT","side":"buy","price":64000.5,"qty":0.25}\n`;
    }
    writeSync(fd, chunk);
  }
  if (sent < total) setTimeout(tick, batchMs);
  else {
    closeSync(fd);
    process.stdout.write(JSON.stringify({ sent }) + '\n');
  }
}
tick();
