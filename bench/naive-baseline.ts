/**
 * The batch job ordertail replaces: readline + JSON.parse + Set + write,
 * single-threaded. Also the tests' reference for "same result as naive".
 * Usage: node naive-baseline.js INPUT OUTPUT
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

/** Each first-seen object record (by its `id`) of the files, in order, trimmed. */
export async function* naiveUniqueRecords(paths: readonly string[]): AsyncGenerator<string> {
  const seen = new Set<string>();
  for (const path of paths) {
    const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
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
      yield line;
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [input, output] = process.argv.slice(2) as [string, string];
  const out = createWriteStream(output);
  let emitted = 0;
  for await (const line of naiveUniqueRecords([input])) {
    emitted++;
    if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(r));
  process.stdout.write(JSON.stringify({ emitted }) + '\n');
}
