/**
 * The batch job ordertail replaces, as a baseline: readline + JSON.parse + Set
 * + write, single-threaded. Usage: node naive-baseline.js INPUT OUTPUT
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [input, output] = process.argv.slice(2) as [string, string];
const out = createWriteStream(output);
const seen = new Set<string>();
const rl = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
let emitted = 0;
for await (const raw of rl) {
  const line = raw.trim();
  if (!line) continue;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    continue;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) continue;
  const key = JSON.stringify((record as { id?: unknown }).id);
  if (seen.has(key)) continue;
  seen.add(key);
  emitted++;
  if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
}
await new Promise<void>((r) => out.end(r));
process.stdout.write(JSON.stringify({ emitted }) + '\n');
