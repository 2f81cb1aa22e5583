/**
 * Appends orders round-robin across the files of a directory, as services
 * writing a log per symbol do: `node dist/bench/many-files-writer.js DIR FILES
 * RATE SECONDS` appends RATE orders a second (5 per append, each append to the
 * next file) for SECONDS, then prints {"written": N} on stdout. Ids are w<seq>.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, files, rate, seconds] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const PER_APPEND = 5;
let seq = 0;
let file = 0;
const t0 = Date.now();
const timer = setInterval(() => {
  const elapsed = Date.now() - t0;
  const due = Math.min(Math.floor((elapsed * rate) / 1000), rate * seconds);
  while (seq < due) {
    let batch = '';
    for (let k = 0; k < PER_APPEND && seq < due; k++) batch += `{"id":"w${seq++}","timestamp":${Date.now()},"note":"заявка ${seq} — 東京"}\n`;
    appendFileSync(join(dir, `live-${String(file).padStart(6, '0')}.ndjson`), batch);
    file = (file + 1) % files;
  }
  if (seq >= rate * seconds) {
    clearInterval(timer);
    process.stdout.write(`${JSON.stringify({ written: seq })}\n`);
  }
}, 1);
