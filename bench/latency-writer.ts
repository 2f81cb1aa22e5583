/**
 * Appends order records to a file at a steady rate, in batches every BATCH_MS,
 * stamping each batch with process.hrtime (CLOCK_MONOTONIC, comparable across
 * processes on one machine) just before it is written. Half of the records
 * carry non-ASCII text, as production order logs do.
 * Usage: node latency-writer.js FILE RECORDS_PER_SEC SECONDS [BATCH_MS=1]
 *
 * A batch is built (text, UTF-8 bytes) with a fixed-width placeholder where
 * each record's stamp goes, and the stamp's digits are written into it right
 * before the write: the time measured starts at the append, not before this
 * process built the batch. Built first and stamped after, a cold writer's own
 * slow first seconds (interpreted code, young-generation GCs while it
 * concatenates) are not counted against the follower.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const [file, rateArg, secondsArg, batchArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const batchMs = Number(batchArg ?? 1);
const fd = openSync(file, 'a');
const NOTES = ['"note":"Zürich desk, Größe geprüft",', '"note":"東京デスク 約定",', '', ''];
/** Wide enough for any process.hrtime in ns (2^64 has 20 digits); readers take the last 15 digits. */
const STAMP_DIGITS = 20;
const PLACEHOLDER = '0'.repeat(STAMP_DIGITS);
const STAMP_FIELD = Buffer.from('"t0":"');
const start = process.hrtime.bigint();
let sent = 0;
const total = rate * seconds;
const stampAt: number[] = [];

function tick(): void {
  const now = process.hrtime.bigint();
  const due = Math.min(total, Math.floor((Number(now - start) / 1e9) * rate));
  if (due > sent) {
    let text = '';
    const ts = Date.now();
    for (; sent < due; sent++) {
      text += `{"id":"w${sent}","timestamp":${ts},${NOTES[sent & 3]}"t0":"${PLACEHOLDER}","symbol":"BTC/USDT","side":"buy","price":64000.5,"qty":0.25}\n`;
    }
    const chunk = Buffer.from(text);
    stampAt.length = 0;
    for (let i = chunk.indexOf(STAMP_FIELD); i >= 0; i = chunk.indexOf(STAMP_FIELD, i + STAMP_DIGITS)) stampAt.push(i + STAMP_FIELD.length);
    const stamp = process.hrtime.bigint().toString().padStart(STAMP_DIGITS, '0');
    for (const at of stampAt) chunk.write(stamp, at, 'latin1');
    writeSync(fd, chunk);
  }
  if (sent < total) setTimeout(tick, batchMs);
  else {
    closeSync(fd);
    process.stdout.write(JSON.stringify({ sent }) + '\n');
  }
}
tick();
