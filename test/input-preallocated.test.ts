// A writer that preallocates its log (fallocate, or a memory-mapped appender such
// as log4j2's MemoryMappedFileAppender: regions of NULs, records stored over them
// in place, the file cut to its used length on close) leaves a followed file that
// ends in NULs which are not padding but room for the next records. Before, the
// engine read over them as padding (or held them as an unterminated line until
// the file grew): records written over them in place were never read, or only
// when the file next grew, and a space larger than maxRecordBytes was consumed
// whole, every record later stored in it lost. Every record must come out, once,
// as it is written, with nothing counted as padding and no truncation warned of.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../dist/src/index.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const WRITER = resolve(import.meta.dirname, '../bench/mmap-writer.py');
const line = (id: string): string => `{"id":"${id}","ts":1700000000000,"note":"ордер ✓"}\n`;

const engines: Engine[] = [];
const fds: number[] = [];
afterEach(async () => {
  while (fds.length) closeSync(fds.pop()!);
  while (engines.length) await engines.pop()!.stop();
});

interface Followed {
  engine: Engine;
  ids: () => string[];
  warnings: string[];
}

async function follow(path: string, sink: string, options: Partial<EngineOptions> = {}): Promise<Followed> {
  const engine = new Engine({ input: path, sink: `file:${sink}`, dedupKey: 'id', eventTime: 'ts', workers: 2, ...options });
  engines.push(engine);
  const warnings: string[] = [];
  engine.on('warning', (m, code) => warnings.push(`${code}: ${m}`));
  await engine.start();
  return { engine, ids: () => readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id), warnings };
}

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Writes records over a preallocated file in place (pwrite), as a preallocating writer does. */
class InPlaceWriter {
  offset = 0;
  constructor(private readonly fd: number) {}
  write(text: string): void {
    const bytes = Buffer.from(text);
    writeSync(this.fd, bytes, 0, bytes.length, this.offset);
    this.offset += bytes.length;
  }
}

function expectClean(f: Followed): void {
  const stats = f.engine.stats();
  expect(stats.duplicates, 'a record read twice').toBe(0);
  expect(stats.rejected).toBe(0);
  expect(stats.paddingBytes).toBe(0);
  expect(f.warnings.filter((w) => /TRUNCATED|NUL_PADDING/.test(w))).toEqual([]);
}

describe('a followed file its writer preallocated and writes over in place', () => {
  it('records written over the NULs are read as they are written, then past them, then the unused space cut off; a restart resumes in the space', async () => {
    const dir = workdir('ordertail-prealloc-');
    const path = join(dir, 'app.log');
    const sink = join(dir, 'out.ndjson');
    const fd = openSync(path, 'w+');
    fds.push(fd);
    ftruncateSync(fd, 4096);
    const writer = new InPlaceWriter(fd);
    writer.write(line('a0'));
    const checkpoint = join(dir, 'ckpt');
    let f = await follow(path, sink, { checkpoint });
    await until(() => f.ids().length === 1, 10_000, 'the record there at start');
    for (let i = 1; i < 40; i++) {
      writer.write(line(`a${i}`));
      // Each one as it is written: the file's size never changes here.
      await until(() => f.ids().length === i + 1, 10_000, `a${i} (out: ${f.ids().length}; ${f.warnings.join(' | ')})`);
    }
    expect(f.engine.files()[0]!.lagBytes, 'preallocated space is not lag').toBe(0);
    expectClean(f);
    // Stopped while the space is half used; written on meanwhile; a restart resumes at its checkpoint.
    await f.engine.stop();
    // (Past the 4 KiB the writer preallocated: those writes make the file longer.)
    for (let i = 40; i < 60; i++) writer.write(line(`a${i}`));
    f = await follow(path, sink, { checkpoint });
    await until(() => f.ids().length === 60, 10_000, `the records written while stopped (out: ${f.ids().length})`);
    // The writer maps its next region (the file grows by NULs) and goes on where it stood; it cuts what it did not use on close.
    ftruncateSync(fd, 16 * 1024);
    for (let i = 60; i < 100; i++) writer.write(line(`a${i}`));
    await until(() => f.ids().length === 100, 10_000, `the records in the new region (out: ${f.ids().length})`);
    for (let i = 100; i < 110; i++) writer.write(line(`a${i}`));
    ftruncateSync(fd, writer.offset);
    await until(() => f.ids().length === 110, 10_000, `the records written before the cut (out: ${f.ids().length})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(f.ids()).toEqual(ids('a', 110));
    expectClean(f);
  });

  it('a space larger than maxRecordBytes: a record half written when the engine looks, a store whose end is written first, a burst of records at once', async () => {
    const dir = workdir('ordertail-prealloc-');
    const path = join(dir, 'app.log');
    const fd = openSync(path, 'w+');
    fds.push(fd);
    ftruncateSync(fd, 1024 * 1024);
    const writer = new InPlaceWriter(fd);
    writer.write(line('b0'));
    const f = await follow(path, join(dir, 'out.ndjson'), { maxRecordBytes: 64 * 1024 });
    await until(() => f.ids().length === 1, 10_000, 'the record there at start');
    for (let i = 1; i < 30; i++) {
      const text = line(`b${i}`);
      writer.write(text.slice(0, 20));
      await new Promise((r) => setTimeout(r, 15));
      writer.write(text.slice(20));
      await until(() => f.ids().length === i + 1, 10_000, `b${i} (out: ${f.ids().length}; ${f.warnings.join(' | ')})`);
    }
    // A store seen half done: its first bytes and its end written, the middle not yet (memcpy writes a block's ends last).
    const first = line('b30');
    const second = line('b31');
    const at = writer.offset;
    writer.offset = at + Buffer.byteLength(first);
    writer.write(second);
    writer.offset = at;
    writer.write(first.slice(0, 10));
    await new Promise((r) => setTimeout(r, 50));
    writer.write(first.slice(10));
    writer.offset = at + Buffer.byteLength(first + second);
    await until(() => f.ids().length === 32, 10_000, `b30 and b31 (out: ${f.ids().length}; ${f.warnings.join(' | ')})`);
    // A burst larger than a read over the space goes (32 KiB), written at once.
    let burst = '';
    for (let i = 32; i < 3000; i++) burst += line(`b${i}`);
    writer.write(burst);
    await until(() => f.ids().length === 3000, 10_000, `the burst (out: ${f.ids().length})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(f.ids()).toEqual(ids('b', 3000));
    expectClean(f);
  });

  const python = spawnSync('python3', ['-c', 'import mmap'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!python)('a memory-mapped writer (no inotify event for its stores): regions of NULs, the file cut to its used length on close', async () => {
    const dir = workdir('ordertail-prealloc-');
    const path = join(dir, 'app.log');
    const sink = join(dir, 'out.ndjson');
    const f = await follow(path, sink, { eventTime: 'timestamp' });
    // log4j2's MemoryMappedFileAppender in small (bench/mmap-writer.py): regions of 8 KiB, 500 records/s.
    const child = spawn('python3', [WRITER, path, '8192', '500', '400', '200'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /paused \d+/.test(out), 20_000, 'the writer half way');
    // The writer waits here, its file as long as its region: only stores so far, no event.
    const stored = Number(/paused (\d+)/.exec(out)![1]);
    await until(() => f.ids().length === stored, 10_000, `the records stored so far (out: ${f.ids().length} of ${stored}; ${f.warnings.join(' | ')})`);
    child.stdin.write('\n');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    await until(() => f.ids().length >= 400, 10_000, `every record (out: ${f.ids().length})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(f.ids()).toEqual(ids('w', 400));
    expectClean(f);
  });
});
