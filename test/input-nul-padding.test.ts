// Runs of NUL bytes in an input are padding between records, not part of one.
// They are what a writer that does not open its log with O_APPEND leaves after
// logrotate's copytruncate (its next write lands at its old offset: a hole of
// NULs up to it), and what a crash leaves in a file whose size reached the disk
// before its data. Before, the record written after such a run shared a "line"
// with it and was rejected with it (invalid_json, or too_large for a hole over
// maxRecordBytes): an order lost. Every record around the NULs must come out,
// once, with the NUL bytes counted and the file named in one warning.
import { execFile, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type EngineOptions, type EngineStats } from '../dist/src/index.js';
import { parserNames } from './helpers/parsers.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const record = (id: string): string => `{"id":"${id}","ts":1700000000000,"note":"ордер ✓"}`;
const line = (id: string): string => `${record(id)}\n`;
const nuls = (n: number): string => '\0'.repeat(n);
/** UTF-32LE (Node has no encoder for it): each code point as four bytes. */
function utf32le(text: string): Buffer {
  const out = Buffer.alloc(4 * [...text].length);
  let i = 0;
  for (const ch of text) out.writeUInt32LE(ch.codePointAt(0)!, 4 * i++);
  return out;
}

const PARSERS = parserNames();

const engines: Engine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.stop();
});

interface Run {
  ids: string[];
  dead: { offset: number; reason: string }[];
  warnings: { message: string; code: string | undefined }[];
  stats: EngineStats;
}

async function once(dir: string, input: string, options: Partial<EngineOptions> = {}): Promise<Run> {
  const sink = join(dir, `out-${Math.random().toString(36).slice(2)}.ndjson`);
  const dead = join(dir, `dead-${Math.random().toString(36).slice(2)}.ndjson`);
  const engine = new Engine({ input, workers: 2, dedupKey: 'id', eventTime: 'ts', ...options, once: true, sink: `file:${sink}`, deadLetter: dead });
  const warnings: Run['warnings'] = [];
  engine.on('warning', (message, code) => warnings.push({ message, code }));
  await engine.start();
  await engine.finished();
  await engine.stop();
  return {
    ids: readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id),
    dead: readLines(dead).map((l) => JSON.parse(l) as { offset: number; reason: string }),
    warnings,
    stats: engine.stats(),
  };
}

/** A file with every shape of NUL run, and what reading it must give. */
function paddedFile(path: string): { ids: string[]; padding: number; firstRunAt: number; cutRecordAt: number } {
  let text = line('r0');
  // A run inside a line: a record, then a short run, then the next record (no LF between).
  text += record('r1');
  const firstRunAt = Buffer.byteLength(text);
  text += nuls(700) + line('r2');
  const cutRecordAt = Buffer.byteLength(text);
  // A crash mid-write: half a record, the NULs of the unwritten blocks, the writer's next record.
  text += record('r3').slice(0, 20) + nuls(5000) + line('r4');
  text += line('r5');
  // A line of NULs only, then an LF.
  text += nuls(300) + '\n' + line('r6');
  // copytruncate's hole: larger than maxRecordBytes and than several ranges.
  text += nuls(3 * 1024 * 1024 + 17) + line('r7') + line('r8');
  // NULs, then the last record with no LF after it (a --once run reads it as final).
  text += nuls(40) + record('r9');
  writeFileSync(path, text);
  return { ids: ['r0', 'r1', 'r2', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'], padding: 700 + 5000 + 300 + 3 * 1024 * 1024 + 17 + 40, firstRunAt, cutRecordAt };
}

describe('NUL bytes between records', () => {
  for (const parser of PARSERS) {
    it(`are read over, every record around them read once (${parser} parser, ranges smaller than the hole)`, async () => {
      const dir = workdir('ordertail-nul-');
      const path = join(dir, 'orders.ndjson');
      const expected = paddedFile(path);
      // 256 KiB ranges and 1 MiB records at most: the hole spans a dozen ranges and is too large to be a record.
      const run = await once(dir, path, { parser, rangeBytes: 256 * 1024, maxRecordBytes: 1024 * 1024 });
      expect(run.ids).toEqual(expected.ids);
      // The half record is dead-lettered alone, at its own offset.
      expect(run.dead).toEqual([expect.objectContaining({ offset: expected.cutRecordAt, reason: 'invalid_json' })]);
      expect(run.stats.rejected).toBe(1);
      expect(run.stats.paddingBytes).toBe(expected.padding);
      const said = run.warnings.filter((w) => w.code === 'ORDERTAIL_INPUT_NUL_PADDING');
      expect(said, JSON.stringify(run.warnings)).toHaveLength(1);
      expect(said[0]!.message).toContain(`${path}: NUL bytes from offset ${expected.firstRunAt} `);
    });
  }

  it('give the same records on any range size and worker count', async () => {
    const dir = workdir('ordertail-nul-');
    const path = join(dir, 'orders.ndjson');
    const expected = paddedFile(path);
    for (const [rangeBytes, workers] of [[4096, 2], [65_536, 1], [4 * 1024 * 1024, 2]] as const) {
      const run = await once(dir, path, { rangeBytes, workers });
      expect(run.ids, `rangeBytes ${rangeBytes}`).toEqual(expected.ids);
      expect(run.stats.paddingBytes, `rangeBytes ${rangeBytes}`).toBe(expected.padding);
    }
  });

  it('random NUL runs anywhere: the records a reference splitter finds, on any range size', async () => {
    const dir = workdir('ordertail-nul-');
    const path = join(dir, 'random.ndjson');
    let seed = 42;
    const rand = (n: number): number => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    let text = '';
    for (let i = 0; i < 3000; i++) {
      const r = rand(20);
      if (r === 0) text += nuls(1 + rand(3)); // short: part of whatever it touches
      else if (r === 1) text += nuls(4 + rand(300));
      else if (r === 2) text += nuls(20_000 + rand(200_000));
      else if (r === 3) text += record(`h${i}`).slice(0, 5 + rand(20)); // half a record
      else if (r === 4) text += '\n';
      else text += rand(3) === 0 ? record(`r${i}`) : line(`r${i}`);
    }
    writeFileSync(path, text);
    // Reference: lines at LF, then pieces at runs of four or more NULs, each trimmed piece a record;
    // a piece that is not one, without NULs, may end in a whole record glued after half of one
    // (input-glued-records.test.ts): the first '{' from which the rest is a record, the part before read the same way.
    const want: string[] = [];
    let rejected = 0;
    let padding = 0;
    const objectOf = (text: string): { id?: string } | undefined => {
      try {
        const value = JSON.parse(text) as unknown;
        return value && typeof value === 'object' && !Array.isArray(value) ? (value as { id?: string }) : undefined;
      } catch {
        return undefined;
      }
    };
    const piece = (text: string): void => {
      const trimmed = text.trim();
      if (!trimmed) return;
      const value = objectOf(trimmed);
      if (value) {
        if (typeof value.id === 'string') want.push(value.id);
        else rejected++;
        return;
      }
      if (!trimmed.includes('\0')) {
        for (let at = trimmed.indexOf('{', 1), tries = 0; at > 0 && tries < 16; at = trimmed.indexOf('{', at + 1), tries++) {
          const glued = objectOf(trimmed.slice(at));
          if (!glued || /[:,[]\s*$/.test(trimmed.slice(0, at))) continue;
          piece(trimmed.slice(0, at));
          piece(trimmed.slice(at));
          return;
        }
      }
      rejected++;
    };
    for (const l of text.split('\n')) {
      for (const m of l.matchAll(/\0{4,}/g)) padding += m[0].length;
      for (const p of l.split(/\0{4,}/)) piece(p);
    }
    expect(padding).toBeGreaterThan(1_000_000);
    for (const rangeBytes of [4096, 100_000, 4 * 1024 * 1024]) {
      const run = await once(dir, path, { rangeBytes, maxRecordBytes: 64 * 1024 });
      expect(run.ids, `rangeBytes ${rangeBytes}`).toEqual(want);
      expect(run.stats.rejected, `rangeBytes ${rangeBytes}`).toBe(rejected);
      expect(run.stats.paddingBytes, `rangeBytes ${rangeBytes}`).toBe(padding);
    }
  });

  it('a few NULs are not padding: a UTF-16 line (no byte-order mark) stays one rejected record', async () => {
    const dir = workdir('ordertail-nul-');
    const path = join(dir, 'mixed.ndjson');
    // UTF-16LE puts one NUL after each ASCII character, UTF-32LE three: split at them, one line
    // would be dozens of rejected one-character "records".
    const lf = Buffer.from('\n');
    writeFileSync(path, Buffer.concat([Buffer.from(line('m0')), Buffer.from(record('m1'), 'utf16le'), lf, Buffer.from(line('m2')), utf32le(record('m3')), lf, Buffer.from(line('m4'))]));
    const run = await once(dir, path);
    expect(run.ids).toEqual(['m0', 'm2', 'm4']);
    expect(run.stats.rejected).toBe(2);
    expect(run.stats.paddingBytes).toBe(0);
    expect(run.warnings.filter((w) => w.code === 'ORDERTAIL_INPUT_NUL_PADDING')).toEqual([]);
  });

  it('at the end of a followed file (preallocated, or a crash) do not hide the records written after them', async () => {
    const dir = workdir('ordertail-nul-');
    const path = join(dir, 'live.ndjson');
    const sink = join(dir, 'out.ndjson');
    // A tail of NULs longer than maxRecordBytes, with no LF: before, rejected as too_large and
    // the next record skipped with it.
    writeFileSync(path, line('a0') + nuls(200_000));
    const engine = new Engine({ input: path, sink: `file:${sink}`, dedupKey: 'id', eventTime: 'ts', maxRecordBytes: 64 * 1024, workers: 1 });
    engines.push(engine);
    const warnings: string[] = [];
    engine.on('warning', (m, code) => warnings.push(`${code}: ${m}`));
    await engine.start();
    const ids = (): string[] => readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id);
    await until(() => ids().length === 1, 10_000, 'a0');
    // The writer goes on after the NULs, as one that had extended the file does.
    const fd = openSync(path, 'a');
    writeSync(fd, line('a1') + line('a2'));
    closeSync(fd);
    await until(() => ids().length >= 3, 10_000, `a1 and a2 (out: ${ids().join(',')}; ${warnings.join(' | ')})`);
    await new Promise((r) => setTimeout(r, 300));
    expect(ids()).toEqual(['a0', 'a1', 'a2']);
    expect(engine.stats().rejected).toBe(0);
    expect(engine.stats().paddingBytes).toBe(200_000);
    expect(warnings.filter((w) => w.startsWith('ORDERTAIL_INPUT_NUL_PADDING'))).toHaveLength(1);
  });
});

const LOGROTATE = ['/usr/sbin/logrotate', '/sbin/logrotate', '/usr/bin/logrotate'].find((p) => existsSync(p)) ??
  (spawnSync('sh', ['-c', 'command -v logrotate'], { encoding: 'utf8' }).stdout.trim() || undefined);

describe.skipIf(!LOGROTATE)('copytruncate under a writer without O_APPEND', () => {
  if (!LOGROTATE) it.skip('logrotate not found (Debian package logrotate: apt-get install -y logrotate)', () => {});

  for (const maxRecordBytes of [16 * 1024 * 1024, 64 * 1024]) {
    it(`every record written after the rotation comes out once (hole ${maxRecordBytes > 1e6 ? 'under' : 'over'} maxRecordBytes)`, async () => {
      const dir = workdir('ordertail-nul-rotate-');
      const log = join(dir, 'app.log');
      const sink = join(dir, 'out.ndjson');
      const conf = join(dir, 'logrotate.conf');
      writeFileSync(conf, `${log} {\n  rotate 2\n  nocompress\n  copytruncate\n}\n`, { mode: 0o644 });
      // The writer: one descriptor opened without O_APPEND, writing at its own offset (what
      // many services do with a plain open(path, O_WRONLY|O_CREAT)).
      const fd = openSync(log, 'w');
      let offset = 0;
      const write = (from: number, to: number): void => {
        let text = '';
        for (let i = from; i < to; i++) text += line(`o${i}`);
        offset += writeSync(fd, text, offset);
      };
      const engine = new Engine({ input: log, sink: `file:${sink}`, dedupKey: 'id', eventTime: 'ts', maxRecordBytes, workers: 2, checkpoint: join(dir, 'ckpt') });
      engines.push(engine);
      const warnings: string[] = [];
      engine.on('warning', (m, code) => warnings.push(`${code}: ${m}`));
      await engine.start();
      const ids = (): string[] => readLines(sink).map((l) => (JSON.parse(l) as { id: string }).id);
      write(0, 2000);
      await until(() => ids().length === 2000, 10_000, 'the first 2,000 records');
      const rotated = await new Promise<{ code: number; stderr: string }>((done) =>
        execFile(LOGROTATE!, ['-s', join(dir, 'state'), '-f', conf], { encoding: 'utf8' }, (err, _o, stderr) => done({ code: err ? 1 : 0, stderr })),
      );
      expect(rotated.code, rotated.stderr).toBe(0);
      await until(() => warnings.some((w) => w.startsWith('ORDERTAIL_INPUT_TRUNCATED')), 10_000, 'the truncation to be seen');
      const hole = offset;
      write(2000, 3000);
      closeSync(fd);
      await until(() => ids().length >= 3000, 10_000, `the records after the hole (out: ${ids().length}; ${warnings.join(' | ')})`);
      await new Promise((r) => setTimeout(r, 300));
      const out = ids();
      expect(out).toHaveLength(3000);
      expect(new Set(out).size).toBe(3000);
      expect(out.slice(2000)).toEqual(Array.from({ length: 1000 }, (_, i) => `o${2000 + i}`));
      expect(engine.stats().rejected).toBe(0);
      expect(engine.stats().paddingBytes).toBe(hole);
      expect(warnings.filter((w) => w.startsWith('ORDERTAIL_INPUT_NUL_PADDING'))).toEqual([expect.stringContaining(`${log}: NUL bytes from offset 0 `)]);
    });
  }
});
