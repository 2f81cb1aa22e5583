/**
 * The file sink drops output it has written back from the page cache
 * (`sinkPageCache: 'drop'`, the default), one writeback stretch behind the end
 * of the file, or leaves it cached ('keep'); either way every byte lands, and
 * a failed background writeback fails the sink instead of vanishing.
 * Residency is read with util-linux `fincore`, the kernel's own answer.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { openSync, readFileSync, readSync, closeSync, statSync, writeFileSync } from 'node:fs';
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

const directAvailable = !('error' in addon) && typeof (addon.addon as { NativeDirectWriter?: unknown }).NativeDirectWriter === 'function';
if (!directAvailable && process.env.ORDERTAIL_REQUIRE_NATIVE === '1') throw new Error('ORDERTAIL_REQUIRE_NATIVE=1 but the addon has no NativeDirectWriter');

/** Writes `chunks` through writev, awaiting each; `flushEvery`: a flush after every that many writes. */
async function writeEach(sink: FileSink, chunks: Buffer[][], flushEvery: number, afterFlush: (n: number) => void): Promise<void> {
  for (const [n, list] of chunks.entries()) {
    await new Promise<void>((resolve, reject) => {
      const taken = sink.writev(list, (err) => (err ? reject(err) : resolve()));
      if (taken !== true) reject(new Error('writev refused a write while none was under way'));
    });
    if ((n + 1) % flushEvery === 0) {
      await sink.flush();
      afterFlush(n);
    }
  }
}

describe.skipIf(!directAvailable || fincoreMissing)("sink page cache 'direct'", () => {
  it('every byte lands in order, appended to an unaligned file, whole at each flush, and next to nothing stays cached', async () => {
    const path = join(workdir(), 'out.ndjson');
    const head = Buffer.from('{"existing":"line, 29 bytes"}\n');
    writeFileSync(path, head);
    const sink = new FileSink(path, { pageCache: 'direct' });
    // Batches of odd sizes (1 B to 9 MiB, more than one 4 MiB buffer), some of several chunks, some of one.
    const chunks: Buffer[][] = [];
    let expected = head;
    for (let n = 0; n < 40; n++) {
      const big = batch(n);
      const size = n % 9 === 4 ? 9 * MiB + 17 : ((n * 7_919_777) % (3 * MiB)) + 1;
      const whole = Buffer.concat([big, big, big]).subarray(0, size);
      const cut = Math.floor(size / 3);
      chunks.push(n % 2 ? [whole] : [whole.subarray(0, cut), whole.subarray(cut, cut), whole.subarray(cut)]);
      expected = Buffer.concat([expected, whole]);
    }
    let checked = 0;
    let residentAtFirstFlush = -1;
    await writeEach(sink, chunks, 7, (n) => {
      // Before anything reads the file (a read caches what it reads).
      if (checked === 0) residentAtFirstFlush = residentBytes(path);
      const upTo = head.length + chunks.slice(0, n + 1).reduce((t, l) => t + l.reduce((u, c) => u + c.length, 0), 0);
      expect(statSync(path).size).toBe(upTo);
      expect(digest(path)).toBe(createHash('sha256').update(expected.subarray(0, upTo)).digest('hex'));
      checked++;
    });
    expect(sink.bytesWritten).toBe(expected.length);
    const direct = sink.writesDirect;
    await sink.close();
    expect(checked).toBe(5);
    expect(digest(path)).toBe(createHash('sha256').update(expected).digest('hex'));
    // O_DIRECT is refused on some file systems (tmpfs): the writes then go through the page cache.
    // The head written before, the last partial block (both through the cache), a block or two read back by the kernel.
    if (direct) expect(residentAtFirstFlush).toBeLessThanOrEqual(64 * 1024);
    else expect(residentAtFirstFlush).toBeGreaterThan(0);
  });

  it('a batch given as runs of a few buffers (writeRuns) lands as its views would; a run outside its buffer is refused', async () => {
    const path = join(workdir(), 'out.ndjson');
    const sink = new FileSink(path, { pageCache: 'direct' });
    expect(typeof sink.writeRuns).toBe('function');
    const sources = [batch(1), batch(2), Buffer.from('tail without newline')];
    let expected = Buffer.alloc(0);
    for (let round = 0; round < 6; round++) {
      const count = 700 + round * 65;
      const runs = new Uint32Array(3 * count);
      const parts: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        const source = (i * 7 + round) % 3;
        const len = sources[source]!.length;
        const start = (i * 104_729 + round * 31) % len;
        const end = Math.min(len, start + ((i * 13) % 9000));
        runs.set([source, start, end], 3 * i);
        parts.push(sources[source]!.subarray(start, end));
      }
      expected = Buffer.concat([expected, ...parts]);
      await new Promise<void>((resolve, reject) => {
        const taken = sink.writeRuns!(sources, runs, count, (err) => (err ? reject(err) : resolve()));
        if (taken !== true) reject(new Error('writeRuns refused a batch while none was under way'));
      });
    }
    expect(() => sink.writeRuns!(sources, Uint32Array.of(0, 10, 4 * MiB + 1), 1, () => {})).toThrow(/outside its source/);
    expect(() => sink.writeRuns!(sources, Uint32Array.of(3, 0, 1), 1, () => {})).toThrow(/outside its source/);
    expect(() => sink.writeRuns!(sources, Uint32Array.of(0, 0), 1, () => {})).toThrow(/fewer than 3/);
    expect(sink.bytesWritten).toBe(expected.length);
    await sink.close();
    expect(digest(path)).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it("says when 'direct' is not in effect, and why", async () => {
    const file = new FileSink(join(workdir(), 'out.ndjson'), { pageCache: 'direct' });
    expect(file.directUnavailable).toBeUndefined();
    expect(file.writesDirect).toBe(true);
    await file.close();
    const device = new FileSink('/dev/null', { pageCache: 'direct' });
    expect(device.directUnavailable).toMatch(/^not a regular file/);
    expect(device.writesDirect).toBe(false);
    await device.close();
    // The engine says it once, at start-up.
    const dir = workdir();
    writeFileSync(join(dir, 'in.ndjson'), '{"id":1}\n');
    const engine = new Engine({ input: [join(dir, 'in.ndjson')], once: true, sink: 'file:/dev/null' });
    const infos: string[] = [];
    engine.on('info', (m: string) => infos.push(m));
    await engine.start();
    await engine.finished();
    await engine.stop();
    expect(infos.filter((m) => m.includes("sinkPageCache 'direct' not in effect"))).toEqual(["file:/dev/null: sinkPageCache 'direct' not in effect (not a regular file: written behind the engine without O_DIRECT)"]);
  });

  it("'drop' and 'keep' offer no writeRuns: their batches are views for writev(2)", async () => {
    const dir = workdir();
    for (const pageCache of ['drop', 'keep'] as const) {
      const sink = new FileSink(join(dir, pageCache), { pageCache });
      expect(sink.writeRuns).toBeUndefined();
      await sink.close();
    }
  });

  it('a write the device refuses fails the sink: the write, later writes and close() report it', async () => {
    // /dev/full refuses every write with ENOSPC.
    const sink = new FileSink('/dev/full', { pageCache: 'direct' });
    const first = new Promise<Error | undefined>((resolve) => sink.writev([Buffer.alloc(3 * MiB, 120)], resolve));
    const failed = (await first) ?? (await sink.flush().then(() => undefined, (e: Error) => e));
    expect(failed).toMatchObject({ code: 'ENOSPC', syscall: 'write', path: '/dev/full' });
    expect(() => sink.write(Buffer.from('more\n'))).toThrow(/ENOSPC/);
    await expect(sink.close()).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('batches given as runs, copied at once or behind: every byte in order, and a refused write reported', async () => {
    const dir = workdir();
    const path = join(dir, 'runs.ndjson');
    const sink = new FileSink(path, { pageCache: 'direct' });
    const source = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `{"id":"r${i}","note":"Größe ${'x'.repeat(i % 97)}"}\n`).join(''));
    // Batches of every size up to 3 MiB, each a few runs, one after another as the staging buffer hands them over.
    let at = 0;
    let batch = 0;
    while (at < source.length) {
      const size = Math.min(source.length - at, 1 + ((batch * 786_431) % (3 * MiB)));
      const cut = at + Math.floor(size / 2);
      const runs = new Uint32Array([0, at, cut, 0, cut, at + size]);
      const err = await new Promise<Error | undefined>((resolve) => {
        const taken = sink.writeRuns!([source], runs, 2, resolve);
        expect(taken).toBe(true);
      });
      expect(err).toBeUndefined();
      at += size;
      batch++;
    }
    await sink.close();
    expect(readFileSync(path).equals(source)).toBe(true);

    const full = new FileSink('/dev/full', { pageCache: 'direct' });
    const refused = await new Promise<Error | undefined>((resolve) => full.writeRuns!([Buffer.alloc(3 * MiB, 120)], new Uint32Array([0, 0, 3 * MiB]), 1, resolve));
    const failed = refused ?? (await full.flush().then(() => undefined, (e: Error) => e));
    expect(failed).toMatchObject({ code: 'ENOSPC', syscall: 'write', path: '/dev/full' });
    await expect(full.close()).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('the engine replays into it: the output is the input, record for record', async () => {
    const dir = workdir();
    const inputs: string[] = [];
    let total = 0;
    for (let f = 0; f < 3; f++) {
      const lines: string[] = [];
      for (let i = 0; i < 60_000; i++) lines.push(`{"id":"f${f}-o${i}","timestamp":${1_700_000_000_000 + i},"note":"ordre n°${i} — 注文 ✓"}`);
      const input = join(dir, `in-${f}.ndjson`);
      writeFileSync(input, lines.join('\n') + '\n');
      inputs.push(input);
      total += statSync(input).size;
    }
    const out = join(dir, 'out.ndjson');
    const engine = new Engine({ input: inputs, once: true, sink: `file:${out}`, workers: 2, sinkPageCache: 'direct' });
    await engine.start();
    await engine.finished();
    await engine.stop();
    expect(statSync(out).size).toBe(total);
    const sorted = (text: string): string[] => text.split('\n').filter(Boolean).sort();
    expect(sorted(readFileSync(out, 'utf8'))).toEqual(sorted(inputs.map((p) => readFileSync(p, 'utf8')).join('')));
  });
});

describe('sinkPageCache option', () => {
  it('rejects an unknown mode', () => {
    expect(() => new Engine({ input: ['x'], sinkPageCache: 'forget' as 'drop' })).toThrow(/sinkPageCache: expected drop \| keep \| direct, got 'forget'/);
  });

  it("refuses 'direct' for a follower, naming the option and why", () => {
    expect(() => new Engine({ input: ['x'], sinkPageCache: 'direct' })).toThrow(/sinkPageCache: 'direct' is for replays \(once\): a live record would wait/);
    expect(() => new Engine({ input: ['x'], once: true, sinkPageCache: 'direct' })).not.toThrow();
  });
});
