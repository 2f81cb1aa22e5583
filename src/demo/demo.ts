/**
 * `ordertail demo` (and `npm start`): a self-contained demo. Writes an order history file into a temp
 * dir, follows a live file while a writer appends orders (with re-sent
 * duplicates and a few corrupt lines), prints a status line a second, and stops
 * after ~10 s with a summary checked against what the writer knows it wrote.
 */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine/engine.js';
import { formatStatus } from '../cli/status-line.js';
import { orderLine, prng } from './orders.js';

const HISTORY_ORDERS = 50_000;
const APPEND_EVERY_MS = 10;
const ORDERS_PER_APPEND = 20;

/** Runs the demo for `runMs` (then stops and checks the output); resolves to the exit code. */
export async function runDemo(runMs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ordertail-demo-'));
  const rand = prng(42);
  const uniqueIds = new Set<string>();
  let seq = 0;
  const nextOrder = (): string => {
    const id = `ord-${(seq++).toString(36).padStart(7, '0')}`;
    uniqueIds.add(id);
    return orderLine({ id, seq, timestamp: Date.now() }, rand);
  };

  const history: string[] = [];
  for (let i = 0; i < HISTORY_ORDERS; i++) history.push(nextOrder());
  // The batch job's view overlaps the live file: re-sent orders must not appear twice.
  const overlap = history.slice(-500);
  writeFileSync(join(dir, 'orders-0900.ndjson'), history.join('\n') + '\n');
  const livePath = join(dir, 'orders-1000.ndjson');
  writeFileSync(livePath, overlap.join('\n') + '\n');

  const sinkPath = join(dir, 'out.ndjson');
  const deadLetterPath = join(dir, 'dead-letter.ndjson');
  const engine = new Engine({
    input: join(dir, 'orders-*.ndjson'),
    sink: `file:${sinkPath}`,
    deadLetter: deadLetterPath,
    workers: 2,
  });
  engine.on('warning', (m) => process.stderr.write(`warning: ${m}\n`));

  process.stderr.write(`ordertail demo: following ${dir}/orders-*.ndjson for ${runMs / 1000} s\n`);
  await engine.start();

  let corrupt = 0;
  const recent: string[] = [];
  const writer = setInterval(() => {
    const lines: string[] = [];
    for (let i = 0; i < ORDERS_PER_APPEND; i++) {
      const r = rand();
      if (r < 0.1 && recent.length > 0) lines.push(recent[Math.floor(rand() * recent.length)]!);
      else if (r < 0.102) {
        lines.push('{"id":"broken", "price": 12.5,');
        corrupt++;
      } else {
        const line = nextOrder();
        lines.push(line);
        recent.push(line);
        if (recent.length > 200) recent.shift();
      }
    }
    appendFileSync(livePath, lines.join('\n') + '\n');
  }, APPEND_EVERY_MS);

  const status = setInterval(() => process.stderr.write(formatStatus(engine.stats()) + '\n'), 1000);
  await new Promise((r) => setTimeout(r, runMs));
  clearInterval(writer);
  // Give the engine a moment to pick up the last append, then drain and stop.
  await new Promise((r) => setTimeout(r, 200));
  await engine.stop();
  clearInterval(status);

  const s = engine.stats();
  const emitted = readFileSync(sinkPath, 'utf8').split('\n').filter(Boolean).length;
  process.stderr.write(formatStatus(s) + '\n');
  process.stderr.write(
    `\nsummary: ${s.recordsRead} read, ${emitted} emitted (writer produced ${uniqueIds.size} unique orders), ` +
      `${s.duplicates} duplicates dropped, ${s.rejected} rejected (writer corrupted ${corrupt})\n` +
      `latency (file growth observed → emitted): p50 ${s.latency.p50} ms, p99 ${s.latency.p99} ms, max ${s.latency.max} ms\n` +
      `output: ${sinkPath}\ndead letters: ${deadLetterPath}\n`,
  );
  if (emitted !== uniqueIds.size || s.rejected !== corrupt) {
    process.stderr.write('demo: MISMATCH between what was written and what was emitted\n');
    return 1;
  }
  return 0;
}
