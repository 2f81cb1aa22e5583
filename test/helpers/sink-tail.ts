import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';

/** The record's "id" (or a marker with the line's start when it has none). */
export function idOf(line: string): string {
  const m = /"id":"([^"]+)"/.exec(line);
  return m ? m[1]! : `<no id> ${line.slice(0, 80)}`;
}

/** Reads a growing NDJSON sink incrementally (cheap to poll), handing each complete line to `onLine`. */
export class SinkTail {
  total = 0;
  private offset = 0;
  private rest = '';
  constructor(
    readonly path: string,
    private readonly onLine: (line: string) => void,
  ) {}

  poll(): number {
    if (!existsSync(this.path)) return this.total;
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      while (this.offset < size) {
        const buf = Buffer.allocUnsafe(Math.min(size - this.offset, 8 << 20));
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const parts = (this.rest + buf.toString('utf8', 0, n)).split('\n');
        this.rest = parts.pop()!;
        for (const line of parts) {
          this.total++;
          this.onLine(line);
        }
      }
    } finally {
      closeSync(fd);
    }
    return this.total;
  }
}

/** Per-id counts of a sink. */
export class CountingTail extends SinkTail {
  readonly counts: Map<string, number>;
  constructor(path: string) {
    const counts = new Map<string, number>();
    super(path, (line) => {
      const id = idOf(line);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    });
    this.counts = counts;
  }
}
