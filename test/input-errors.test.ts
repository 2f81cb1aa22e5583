/**
 * Inputs that cannot be read: a usage error (exit 2) when `--once` is given
 * something that is not a regular file, a retry for what may pass (EACCES),
 * and exit 3 with the list when a `--once` run could not read everything.
 * Never a hang, never a silent skip.
 */
import { appendFileSync, chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnce, workdir } from './helpers/workdir.js';
import { NOBODY_CANNOT_READ, NOBODY_MISSING, plainLines, runCli, startCli } from './helpers/cli-process.js';

const BASE = ['run', '--no-metrics', '--workers', '1', '--log-level', 'warn'];

if (NOBODY_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(NOBODY_MISSING);
const UNPRIVILEGED_SKIP = NOBODY_MISSING ?? NOBODY_CANNOT_READ;
if (UNPRIVILEGED_SKIP) console.log(`input-errors: unprivileged cases skipped: ${UNPRIVILEGED_SKIP}`);

/** A work dir any user can enter (mkdtemp makes it 0700), holding one good input. */
function setup(): { dir: string; good: string } {
  const dir = workdir();
  chmodSync(dir, 0o755);
  const good = join(dir, 'good.ndjson');
  writeFileSync(good, '{"id":1}\n{"id":2}\n', { mode: 0o644 });
  return { dir, good };
}

describe('--once: an explicit input that is not a readable regular file is a usage error', () => {
  const cases: [string, (dir: string) => string, RegExp][] = [
    ['a symlink loop', (dir) => (symlinkSync('loop', join(dir, 'loop')), join(dir, 'loop')), /loop: cannot be opened \(ELOOP/],
    ['a file that does not exist (a typo)', (dir) => join(dir, 'godo.ndjson'), /godo\.ndjson: no such file/],
    ['a directory', (dir) => (mkdirSync(join(dir, 'logs')), join(dir, 'logs')), /logs: is a directory, not a regular file/],
    ['a FIFO', (dir) => (spawnSync('mkfifo', [join(dir, 'pipe')]), join(dir, 'pipe')), /pipe: is a FIFO, not a regular file; standard input and pipes are not read .*write the stream to a file/],
    ['standard input, as -', () => '-', /input -: no such file .*; standard input and pipes are not read/],
    ['a gzip-compressed log', (dir) => (writeFileSync(join(dir, 'app.log.2.gz'), gzipSync('{"id":9}\n')), join(dir, 'app.log.2.gz')), /app\.log\.2\.gz is gzip-compressed: ordertail reads plain NDJSON or JSON: give zcat's output as a file to read \(zcat .*app\.log\.2\.gz > .*app\.log\.2\.ndjson\)/],
  ];
  for (const [what, make, message] of cases) {
    it(`${what}: exit 2, one line naming it, nothing written`, async () => {
      const { dir, good } = setup();
      const bad = make(dir);
      const r = await runCli([...BASE, '--once', '--input', good, '--input', bad], { timeoutMs: 15_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(plainLines(r.stderr)).toHaveLength(1);
      expect(plainLines(r.stderr)[0]).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }
});

describe('follow mode: an unusable input is a warning; the others are read', () => {
  it('a symlink loop beside a good file: the good one is read, the loop named once, SIGTERM exits 0', async () => {
    const { dir, good } = setup();
    symlinkSync('loop', join(dir, 'loop'));
    const p = startCli([...BASE, '--no-checkpoint', '--input', good, '--input', join(dir, 'loop')]);
    await p.waitFor('{"id":2}\n');
    await p.waitFor(/loop: ELOOP; retrying/, 'stderr');
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
    expect(p.stdout()).toBe('{"id":1}\n{"id":2}\n');
    expect(p.stderr().match(/ELOOP/g)).toHaveLength(1);
  });

  it('an explicit input that does not exist yet: one warning, then read when it appears', async () => {
    const { dir, good } = setup();
    const later = join(dir, 'later.ndjson');
    const p = startCli([...BASE, '--no-checkpoint', '--input', good, '--input', later]);
    await p.waitFor('{"id":2}\n');
    await p.waitFor(/later\.ndjson does not exist \(yet\); waiting for it/, 'stderr');
    writeFileSync(later, '{"id":7}\n');
    await p.waitFor('{"id":7}\n');
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
    expect(p.stderr().match(/does not exist/g)).toHaveLength(1);
  });

  it('a directory given as input: warned about, the good file read', async () => {
    const { dir, good } = setup();
    mkdirSync(join(dir, 'logs'));
    const p = startCli([...BASE, '--no-checkpoint', '--input', good, '--input', join(dir, 'logs')]);
    await p.waitFor('{"id":2}\n');
    await p.waitFor(/logs is a directory, not a regular file/, 'stderr');
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
  });
});

describe('compressed files a glob matches (logrotate `compress`) are skipped and named once, not read as text', () => {
  it('gzip, zstd, xz, bzip2: one warning each, no record rejected; the plain files read, in --once and while following', async () => {
    const { dir } = setup();
    const orders = Array.from({ length: 20_000 }, (_, i) => `{"id":${i},"note":"ordre n° ${i}"}\n`).join('');
    writeFileSync(join(dir, 'app.log'), '{"id":"live"}\n');
    writeFileSync(join(dir, 'app.log.1'), orders);
    writeFileSync(join(dir, 'app.log.2.gz'), gzipSync(orders));
    // Each compressor's command, given the output then the input (those not installed are left out).
    const compressors: [string, string[]][] = [['app.log.3.zst', ['zstd', '-q', '-o']], ['app.log.4.xz', ['sh', '-c', 'xz -c "$1" > "$0"']], ['app.log.5.bz2', ['sh', '-c', 'bzip2 -c "$1" > "$0"']]];
    const made = ['app.log.2.gz'];
    for (const [name, [command, ...args]] of compressors) {
      if (spawnSync(command!, [...args, join(dir, name), join(dir, 'app.log.1')]).status === 0) made.push(name);
    }
    const once = await runCli([...BASE, '--once', '--input', join(dir, 'app.log*')], { timeoutMs: 30_000 });
    expect(once.code, once.stderr).toBe(0);
    expect(once.stdout.split('\n').filter(Boolean)).toHaveLength(20_001);
    for (const name of made) expect(once.stderr.match(new RegExp(`ORDERTAIL_INPUT_COMPRESSED.*${name.replace(/\./g, '\\.')} is \\w+-compressed: not read`, 'g')), name).toHaveLength(1);
    expect(once.stderr).not.toMatch(/ORDERTAIL_RECORD_REJECTED/);

    const p = startCli([...BASE, '--no-checkpoint', '--input', join(dir, 'app.log*')]);
    await p.waitFor('{"id":"live"}\n');
    // logrotate compressing while followed: the .gz appears, and changes, after start.
    writeFileSync(join(dir, 'app.log.6.gz'), gzipSync(orders));
    await p.waitFor(/app\.log\.6\.gz is gzip-compressed/, 'stderr');
    writeFileSync(join(dir, 'app.log.6.gz'), gzipSync(orders + orders));
    appendFileSync(join(dir, 'app.log'), '{"id":"after"}\n');
    await p.waitFor('{"id":"after"}\n');
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
    expect(p.stderr().match(/app\.log\.6\.gz is gzip-compressed/g)).toHaveLength(1);
    expect(p.stderr()).not.toMatch(/ORDERTAIL_RECORD_REJECTED/);
  });
});

describe('inputs that cannot be read are retried, then listed (exit 3)', () => {
  it('a glob matching a file name that is not valid UTF-8: exit 3 naming it, the others read', async () => {
    const { dir } = setup();
    writeFileSync(Buffer.concat([Buffer.from(join(dir, 'bad-')), Buffer.from([0xff, 0xfe]), Buffer.from('.ndjson')]), '{"id":3}\n');
    const r = await runCli([...BASE, '--once', '--input', join(dir, '*.ndjson')], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('{"id":1}\n{"id":2}\n');
    expect(plainLines(r.stderr)).toEqual([expect.stringMatching(/1 input\(s\) not read: .*bad-.*\.ndjson \(name is not valid UTF-8\)/)]);
  });

  it.skipIf(UNPRIVILEGED_SKIP)('--once as an unprivileged user, an input in a directory it may not read: the rest read, no hang, exit 3 naming it', async () => {
    const { dir, good } = setup();
    mkdirSync(join(dir, 'secret'), { mode: 0o700 });
    writeFileSync(join(dir, 'secret', 'b.ndjson'), '{"id":9}\n');
    const r = await runCli([...BASE, '--once', '--input', good, '--input', join(dir, 'secret', 'b.ndjson')], { asNobody: true, timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('{"id":1}\n{"id":2}\n');
    expect(plainLines(r.stderr)).toEqual([expect.stringMatching(/1 input\(s\) not read: .*secret\/b\.ndjson \(EACCES\)/)]);
    expect(r.stderr.match(/retrying with backoff/g)).toHaveLength(1);
  });

  it.skipIf(UNPRIVILEGED_SKIP)('--once as an unprivileged user, a glob in a directory it may not list: exit 3 naming the directory, the rest read', async () => {
    const { dir, good } = setup();
    mkdirSync(join(dir, 'secret'), { mode: 0o700 });
    writeFileSync(join(dir, 'secret', 'b.ndjson'), '{"id":9}\n');
    const r = await runCli([...BASE, '--once', '--input', good, '--input', join(dir, 'secret', '*.ndjson')], { asNobody: true, timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('{"id":1}\n{"id":2}\n');
    expect(r.stderr).toMatch(/secret\/\*\.ndjson: cannot list .*secret \(EACCES\); files matching there are not found/);
    expect(plainLines(r.stderr)).toEqual([expect.stringMatching(/1 input\(s\) not read: .*secret\/ \(cannot list: EACCES\)/)]);
  });

  it('a glob that matches nothing: a warning naming it (a typo is not silent)', async () => {
    const { dir, good } = setup();
    const r = await runCli([...BASE, '--once', '--input', good, '--input', join(dir, 'ordres-*.ndjson')], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"id":1}\n{"id":2}\n');
    expect(r.stderr.match(/ordres-\*\.ndjson matches no file/g)).toHaveLength(1);
  });

  it.skipIf(UNPRIVILEGED_SKIP)('--once: EACCES that goes away within the retries is read, exit 0', async () => {
    const { dir, good } = setup();
    const secret = join(dir, 'secret');
    mkdirSync(secret, { mode: 0o700 });
    writeFileSync(join(secret, 'b.ndjson'), '{"id":9}\n', { mode: 0o644 });
    const p = startCli([...BASE, '--once', '--input', good, '--input', join(secret, 'b.ndjson')], { asNobody: true });
    await p.waitFor(/b\.ndjson: EACCES; retrying/, 'stderr');
    chmodSync(secret, 0o755);
    expect(await p.exit(15_000), p.stderr()).toBe(0);
    expect(p.stdout().split('\n').filter(Boolean).sort()).toEqual(['{"id":1}', '{"id":2}', '{"id":9}']);
  });

  it.skipIf(UNPRIVILEGED_SKIP)('follow mode: a file that becomes readable later is read', async () => {
    const { dir, good } = setup();
    const secret = join(dir, 'secret');
    mkdirSync(secret, { mode: 0o700 });
    writeFileSync(join(secret, 'b.ndjson'), '{"id":9}\n', { mode: 0o644 });
    const p = startCli([...BASE, '--no-checkpoint', '--input', good, '--input', join(secret, 'b.ndjson')], { asNobody: true });
    await p.waitFor('{"id":2}\n');
    await p.waitFor(/b\.ndjson: EACCES; retrying/, 'stderr');
    chmodSync(secret, 0o755);
    await p.waitFor('{"id":9}\n', 'stdout', 15_000);
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
  });
});

describe('a .json array without its closing ] is reported, not passed off as complete', () => {
  it('the elements are emitted; the truncation is warned, counted and dead-lettered at its offset', async () => {
    const dir = workdir();
    const cut = join(dir, 'cut.json');
    writeFileSync(cut, '[{"id":1},{"id":2},\n{"id":3}\n');
    writeFileSync(join(dir, 'whole.json'), '[{"id":4}]\n');
    const r = await runOnce(dir, { input: [cut, join(dir, 'whole.json')], workers: 1 });
    expect(r.lines).toEqual(['{"id":1}', '{"id":2}', '{"id":3}', '{"id":4}']);
    expect(r.deadLetters).toEqual([{ file: cut, offset: 29, reason: 'truncated_document', sample: '' }]);
    expect(r.stats.rejected).toBe(1);
    expect(r.stats.rejectedByReason.truncated_document).toBe(1);
  });
});

describe('the descriptor budget follows RLIMIT_NOFILE', () => {
  it('1,000 files under `ulimit -n 256`: every file read, exit 0, the cap logged once', async () => {
    const dir = workdir();
    for (let i = 0; i < 1000; i++) writeFileSync(join(dir, `f${i}.ndjson`), `{"id":${i}}\n`);
    const r = await runCli([...BASE, '--once', '--input', join(dir, '*.ndjson')], { shellPrefix: 'ulimit -n 256', timeoutMs: 40_000 });
    expect(r.code, r.stderr.slice(0, 2000)).toBe(0);
    expect(new Set(r.stdout.split('\n').filter(Boolean)).size).toBe(1000);
    expect(r.stderr.match(/maxOpenFiles 512 capped to \d+: the open files limit \(RLIMIT_NOFILE\) is 256/g)).toHaveLength(1);
    expect(r.stderr).not.toContain('EMFILE');
  });
});
