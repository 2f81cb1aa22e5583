/**
 * Baseline follower: fs.watch + read the new bytes + split lines + JSON.parse +
 * Set + write to stdout, single-threaded, as a hand-rolled tail would do it.
 * Usage: node naive-follower.js FILE
 */
import { openSync, readSync, watch, fstatSync } from 'node:fs';

const file = process.argv[2]!;
const fd = openSync(file, 'r');
let pos = 0;
let carry = '';
const seen = new Set<string>();
const buf = Buffer.allocUnsafe(1 << 20);

function readNew(): void {
  const size = fstatSync(fd).size;
  let out = '';
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n <= 0) break;
    pos += n;
    const lines = (carry + buf.toString('utf8', 0, n)).split('\n');
    carry = lines.pop()!;
    for (const raw of lines) {
      const line = raw.trim();
      if (!line) continue;
      try {
        const record = JSON.parse(line) as { id?: unknown };
        const key = JSON.stringify(record.id);
        if (seen.has(key)) continue;
        seen.add(key);
        out += line + '\n';
      } catch {
        /* a baseline does not dead-letter */
      }
    }
  }
  if (out) process.stdout.write(out);
}

watch(file, () => readNew());
readNew();
process.on('SIGTERM', () => process.exit(0));
