/**
 * The file sink drops output it has written back from the page cache
 * (`sinkPageCache: 'drop'`, the default), one writeback stretch behind the end
 * of the file, or leaves it cached ('keep'); either way every byte lands, and
 * a failed background writeback fails the sink instead of vanishing.
 * Residency is read with util-linux `fincore`, the kernel's own answer.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { loadNativeAddon } from '../dist/src/parser/native.js';
import { FileSink } from '../dist/src/sinks/file-sink.js';
import { workdir } from './helpers/workdir.js';

const MiB = 1024 * 1024;
const addon = loadNativeAddon();
const dropAvailable = !('error' in addon) && typeof (addon.addon as { writeBackAndDrop?: unknown }).writeBackAndDrop === 'function';
if (!dropAvailable && process.env.ORDERTAIL_REQUIRE_NATIVE === '1') throw new Error('ORDERTAIL_REQUIRE_NATIVE=1 but the addon has no writeBackAndDrop');
const fincoreMissing = spawnSync('fincore', ['--version']).status !== 0 ? 'fincore (util-linux) is not on PATH' : undefined;
if (fincoreMissing && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(fincoreMissing);

/** Bytes of `path` in the page cache. */
function residentBytes(path: string): number {
  const r = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fincore ${path}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** A 4 MiB batch whose bytes say where they belong (batch number in every line). */
function batch(n: number): Buffer {
  const line = `{"batch":${String(n).padStart(6, '0')},"pad":"${'x'.repeat(100)}"}\n`;
  return Buffer.from(line.repeat(Math.ceil((4 * MiB) / line.length))).subarray(0, 4 * MiB);
}

/** Writes `batches` 4 MiB batches through the sink's background path, one at a time, then closes it. */
async function writeThrough(sink: FileSink, batches: number): Promise<void> {
  for (let n = 0; n < batches; n++) {
    const chunk = batch(n);
    // Each write is awaited, so none is under way when the next starts (writev() returns true).
    await new Promise<void>((resolve, reject) => {
      sink.writev([chunk.subarray(0, 2 * MiB), chunk.subarray(2 * MiB)], (err) => (err ? reject(err) : resolve()));
    });
  }
  await sink.close();
}

function digest(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(4 * MiB);
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  closeSync(fd);
  return hash.digest('hex');
}

function expectedDigest(batches: number): string {
  const hash = createHash('sha256');
  for (let n = 0; n < batches; n++) hash.update(batch(n));
  return hash.digest('hex');
}

const BATCHES = 64; // 256 MiB: eight writeback stretches

describe.skipIf(!dropAvailable || fincoreMissing)('sink page cache', () => {
  it("'drop' keeps at most a few stretches of the output cached, and every byte lands", async () => {
    const path = join(workdir(), 'out.ndjson');
    await writeThrough(new FileSink(path, { pageCache: 'drop' }), BATCHES);
    expect(statSync(path).size).toBe(BATCHES * 4 * MiB);
    // The newest stretch is kept; one or two more may be when a writeback was still running.
    expect(residentBytes(path)).toBeLessThanOrEqual(112 * MiB);
    expect(digest(path)).toBe(expectedDigest(BATCHES));
  });

  it("'keep' leaves the written output cached", async () => {
    const path = join(workdir(), 'out.ndjson');
    await writeThrough(new FileSink(path, { pageCache: 'keep' }), BATCHES);
    // Not all of it need stay: this VM's page cache is trimmed from outside over time.
    expect(residentBytes(path)).toBeGreaterThanOrEqual(160 * MiB);
    expect(digest(path)).toBe(expectedDigest(BATCHES));
  });

  it('the engine passes sinkPageCache to its file sink', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const lines: string[] = [];
    for (let i = 0; i < 420_000; i++) lines.push(`{"id":"o${i}","timestamp":${1_700_000_000_000 + i},"pad":"${'p'.repeat(200)}"}`);
    writeFileSync(input, lines.join('\n') + '\n');
    const size = statSync(input).size;
    for (const mode of ['drop', 'keep'] as const) {
      const out = join(dir, `out-${mode}.ndjson`);
      const engine = new Engine({ input: [input], once: true, sink: `file:${out}`, workers: 2, sinkPageCache: mode });
      await engine.start();
      await engine.finished();
      await engine.stop();
      expect(statSync(out).size).toBe(size);
      if (mode === 'drop') expect(residentBytes(out)).toBeLessThan(size / 2);
      else expect(residentBytes(out)).toBeGreaterThan(size * 0.6);
    }
  });

  it('a failed background writeback fails the sink: later writes and close() report it', async () => {
    const path = join(workdir(), 'out.ndjson');
    // EIO cannot be produced on demand here (no fault-injecting device): the
    // writeback reports it the way the addon reports an fdatasync errno.
    const sink = new FileSink(path, { pageCache: 'drop', writeBackAndDrop: async () => 5 });
    await expect(writeThrough(sink, 16)).rejects.toMatchObject({ code: 'EIO', syscall: 'fdatasync', path });
  });
});

describe('sinkPageCache option', () => {
  it('rejects an unknown mode', () => {
    expect(() => new Engine({ input: ['x'], sinkPageCache: 'forget' as 'drop' })).toThrow(/sinkPageCache: expected drop \| keep, got 'forget'/);
  });
});
