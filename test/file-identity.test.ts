/**
 * What a file appearing at a path is — a rename, a copytruncate copy, the old
 * content of a truncated file, a file a checkpoint knows — decided by the set
 * of followed files alone: real files, no worker pool, no engine.
 */
import { appendFileSync, closeSync, copyFileSync, fstatSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, identityOfFd } from '../dist/src/checkpoint/identity.js';
import { FdBudget } from '../dist/src/sources/fd-budget.js';
import { FileCursor } from '../dist/src/sources/file-cursor.js';
import { FileSet } from '../dist/src/sources/file-set.js';
import { workdir } from './helpers/workdir.js';

const lines = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) => `{"id":${from + i},"note":"Zürich"}`).join('\n') + '\n';
let nextId = 1;
const fds = new FdBudget(64);
const cursor = (path: string, live = false): FileCursor => {
  const file = new FileCursor(nextId++, path, 1 << 20, { kind: 'start' }, performance.now(), fds);
  file.live = live;
  return file;
};
const opened = <T>(path: string, use: (fd: number) => T): T => {
  const fd = openSync(path, 'r');
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
};

describe('the set of followed files', () => {
  it('recognises a copytruncate copy of a followed file, and no unrelated file', () => {
    const dir = workdir();
    const log = join(dir, 'app.log');
    writeFileSync(log, lines(0, 100));
    const set = new FileSet();
    const original = cursor(log, true);
    set.add(original);
    copyFileSync(log, join(dir, 'app.log.1'));
    writeFileSync(join(dir, 'other.log'), lines(500, 600));
    const copyOf = (p: string, deep: boolean) => opened(p, (fd) => set.copyOrigin(fd, fstatSync(fd).size, fingerprintOf(fd), identityOfFd(fd).key, deep));
    expect(copyOf(join(dir, 'app.log.1'), false)).toBe(original);
    expect(copyOf(join(dir, 'other.log'), true)).toBeUndefined();
    // The original grew after the copy: still recognised when looking deep (prefixes of different lengths).
    appendFileSync(log, lines(100, 200));
    original.refreshFingerprint();
    expect(copyOf(join(dir, 'app.log.1'), true)).toBe(original);
    expect(set.copiesOf(original)).toEqual([]);
  });

  it('small files among thousands: a copy shorter or longer than its original is found, a file sharing only its first bytes is not', () => {
    const dir = workdir();
    const set = new FileSet();
    const others: FileCursor[] = [];
    for (let i = 0; i < 2000; i++) {
      const path = join(dir, `sym-${i}.log`);
      writeFileSync(path, `{"id":"s${i}","note":"ордер"}\n`);
      const file = cursor(path);
      set.add(file);
      file.closeFd();
      others.push(file);
    }
    // A small original (under a fingerprint's 1 KiB), and one that grows past LEAD_BYTES only later.
    const log = join(dir, 'app.log');
    writeFileSync(log, lines(0, 10));
    const original = cursor(log, true);
    set.add(original);
    const late = join(dir, 'late.log');
    writeFileSync(late, '{"id":1}\n');
    const lateFile = cursor(late);
    set.add(lateFile);
    const copyOf = (p: string, deep: boolean) => opened(p, (fd) => set.copyOrigin(fd, fstatSync(fd).size, fingerprintOf(fd), identityOfFd(fd).key, deep));
    // The copy was made, then the original grew: the copy is the shorter.
    copyFileSync(log, join(dir, 'app.log.1'));
    appendFileSync(log, lines(10, 12));
    set.refreshFingerprint(original);
    expect(copyOf(join(dir, 'app.log.1'), true)).toBe(original);
    expect(copyOf(join(dir, 'app.log.1'), false)).toBeUndefined(); // start-up: only a copy of the same length
    // A copy that was written on after it was made: longer than the original, which it begins with.
    writeFileSync(join(dir, 'app.log.2'), lines(0, 12) + lines(50, 52));
    expect(copyOf(join(dir, 'app.log.2'), true)).toBe(original);
    // The same first 64 bytes and more, then different: not a copy.
    writeFileSync(join(dir, 'lookalike.log'), lines(0, 2) + '{"id":"different"}\n');
    expect(copyOf(join(dir, 'lookalike.log'), true)).toBeUndefined();
    // A file that grew past the lead bytes after it was added is found by them.
    appendFileSync(late, lines(1000, 1005));
    set.refreshFingerprint(lateFile);
    copyFileSync(late, join(dir, 'late.log.1'));
    expect(copyOf(join(dir, 'late.log.1'), false)).toBe(lateFile);
  });

  it('a file sharing more than its first 1 KiB with another (a long common preamble) is not its copy; a copy is, and a copy still being written', () => {
    const dir = workdir();
    const preamble = Array.from({ length: 20 }, (_, i) => `{"type":"schema","field":${i},"name":"Zürich ордер"}\n`).join('');
    const log = join(dir, 'orders-10.log');
    writeFileSync(log, preamble + lines(0, 100));
    const set = new FileSet();
    const original = cursor(log, true);
    set.add(original);
    const copyOf = (p: string, deep: boolean) => opened(p, (fd) => set.copyOrigin(fd, fstatSync(fd).size, fingerprintOf(fd), identityOfFd(fd).key, deep));
    writeFileSync(join(dir, 'orders-11.log'), preamble + lines(500, 600));
    expect(Buffer.byteLength(preamble)).toBeGreaterThan(1024);
    expect(copyOf(join(dir, 'orders-11.log'), true)).toBeUndefined();
    expect(copyOf(join(dir, 'orders-11.log'), false)).toBeUndefined();
    copyFileSync(log, join(dir, 'orders-10.log.1'));
    expect(copyOf(join(dir, 'orders-10.log.1'), true)).toBe(original);
    // A cp under way: the first 3 KiB so far.
    writeFileSync(join(dir, 'partial.log'), readFileSync(log).subarray(0, 3072));
    expect(copyOf(join(dir, 'partial.log'), true)).toBe(original);
  });

  it('a copy of a truncated file resumes where the reading of its original stood', () => {
    const dir = workdir();
    const log = join(dir, 'app.log');
    writeFileSync(log, lines(0, 100));
    const set = new FileSet();
    const original = cursor(log);
    set.add(original);
    const old = join(dir, 'app.log.old');
    copyFileSync(log, old);
    truncateSync(log, 0);
    set.rememberTruncation(original, 1234);
    expect(opened(old, (fd) => set.truncatedOrigin(fd, fingerprintOf(fd)))).toBe(1234);
    writeFileSync(join(dir, 'fresh.log'), lines(900, 1000));
    expect(opened(join(dir, 'fresh.log'), (fd) => set.truncatedOrigin(fd, fingerprintOf(fd)))).toBeUndefined();
  });

  it('a rename moves the file to its new path; the file displaced there is detached', () => {
    const dir = workdir();
    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    writeFileSync(a, lines(0, 10));
    writeFileSync(b, lines(10, 20));
    const set = new FileSet();
    const fa = cursor(a);
    const fb = cursor(b);
    set.add(fa);
    set.add(fb);
    renameSync(a, b); // b.log now names a's inode: fb's file is gone from that name
    set.moveTo(fa, b, 5);
    expect(set.atPath(b)).toBe(fa);
    expect(set.atPath(a)).toBeUndefined();
    expect(fb.detached).toBe(true);
    expect(fb.lastChangeAt).toBe(5);
    expect(set.has(fb)).toBe(true); // drained before it is let go
  });

  it('a file let go and seen again resumes where it ended; a checkpointed one where the checkpoint says', () => {
    const dir = workdir();
    const log = join(dir, 'app.log');
    writeFileSync(log, lines(0, 200));
    const set = new FileSet();
    const file = cursor(log);
    set.add(file);
    file.committed = { offset: 3000, skipPartial: false, carryPhase: 0 };
    const [entry] = set.checkpointFiles();
    set.retire(file);
    expect(set.has(file)).toBe(false);
    expect(opened(log, (fd) => set.takeRetired(identityOfFd(fd).key, fd))).toMatchObject({ offset: 3000 });
    expect(opened(log, (fd) => set.takeRetired(identityOfFd(fd).key, fd))).toBeUndefined();

    const restarted = new FileSet();
    restarted.resumeFrom([entry!]);
    expect(restarted.isKnown(entry!.identity)).toBe(true);
    expect(opened(log, (fd) => restarted.takeCheckpointed(identityOfFd(fd).key, fd, identityOfFd(fd).size))).toMatchObject({ point: { offset: 3000 } });
    // Truncated below the checkpoint while stopped (its head intact): read again from the start.
    restarted.resumeFrom([entry!]);
    truncateSync(log, 2000);
    expect(opened(log, (fd) => restarted.takeCheckpointed(identityOfFd(fd).key, fd, identityOfFd(fd).size))).toMatchObject({ point: undefined, mismatch: 'truncated' });
  });

  it('keeps live files first, then discovery order', () => {
    const dir = workdir();
    const set = new FileSet();
    const files = [0, 1, 2].map((i) => {
      writeFileSync(join(dir, `${i}.log`), lines(i, i + 1));
      return cursor(join(dir, `${i}.log`));
    });
    for (const f of files) set.add(f);
    set.markLive(files[2]!);
    expect(set.files.map((f) => f.path.slice(-5))).toEqual(['2.log', '0.log', '1.log']);
    set.markLive(files[1]!);
    expect(set.files.map((f) => f.path.slice(-5))).toEqual(['1.log', '2.log', '0.log']);
    // A live file added later goes after the live ones (discovery order among them), before the rest.
    writeFileSync(join(dir, '3.log'), lines(3, 4));
    const later = cursor(join(dir, '3.log'), true);
    set.add(later);
    expect(set.files.map((f) => f.path.slice(-5))).toEqual(['1.log', '2.log', '3.log', '0.log']);
  });
});
