// inotify watches run out: the CLI follows 50 files while only WATCHES inotify watches
// can be had. Files beyond that must fall back to stat polling — every append to every
// file still comes out, exactly once — and the engine logs ONE warning mentioning
// inotify, not one per file.
//
// How the limit is lowered, in order of preference:
// 1. userns: the engine runs in its own user namespace (`unshare --user --map-root-user`)
//    whose /proc/sys/user/max_inotify_watches is set to WATCHES. Only the engine is
//    limited; nothing else on the machine notices.
// 2. sysctl: the system-wide /proc/sys/fs/inotify/max_user_watches is lowered to the
//    watches in use + WATCHES for the engine's start-up only, then restored (also on
//    failure, and at the next run if this process died in between). Other processes of
//    the same user cannot add watches meanwhile, so the window is kept short.
// Neither possible: the test fails when ORDERTAIL_REQUIRE_TOOLS=1, else it is skipped.
// ORDERTAIL_INOTIFY_LIMIT=userns|sysctl forces one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readLines, until, workdir } from './helpers/workdir.js';

const CLI = resolve(import.meta.dirname, '../bin/ordertail.js');
const FILES = 50;
/** inotify watches left for the engine: a few files get one, the rest must be polled. */
const WATCHES = 10;
const SYSCTL = '/proc/sys/fs/inotify/max_user_watches';
/** The system-wide limit as it was, while this test has it lowered (survives a crash of this process). */
const SAVED_LIMIT = join(tmpdir(), 'ordertail-test-max_user_watches.saved');

type LimitMode = 'userns' | 'sysctl';

function usernsWorks(): boolean {
  const r = spawnSync('unshare', ['--user', '--map-root-user', 'sh', '-c', `echo ${WATCHES} > /proc/sys/user/max_inotify_watches`], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0;
}

function sysctlWritable(): boolean {
  try {
    accessSync(SYSCTL, constants.W_OK);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

function chooseMode(): { mode?: LimitMode; missing?: string } {
  const forced = process.env.ORDERTAIL_INOTIFY_LIMIT;
  if (forced && forced !== 'userns' && forced !== 'sysctl') return { missing: `ORDERTAIL_INOTIFY_LIMIT must be userns or sysctl, got '${forced}'` };
  if (forced !== 'sysctl' && usernsWorks()) return { mode: 'userns' };
  if (forced !== 'userns' && sysctlWritable()) return { mode: 'sysctl' };
  return {
    missing:
      `cannot limit inotify watches${forced ? ` (ORDERTAIL_INOTIFY_LIMIT=${forced})` : ''}: no user namespace (\`unshare --user --map-root-user\` failed) ` +
      `and ${SYSCTL} is not writable (run as root, or allow unprivileged user namespaces)`,
  };
}

/** A previous run that died with the limit lowered: put it back before anything else. */
function restoreSavedLimit(): void {
  if (!existsSync(SAVED_LIMIT)) return;
  const saved = readFileSync(SAVED_LIMIT, 'utf8').trim();
  if (/^\d+$/.test(saved)) writeFileSync(SYSCTL, saved);
  rmSync(SAVED_LIMIT, { force: true });
}

/** inotify watches held by `pid` (each is one "inotify wd:" line in its fdinfo). */
function watchesOf(pid: number | string): number {
  let n = 0;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    try {
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      if (!info.includes('inotify wd:')) continue;
      for (const line of info.split('\n')) if (line.startsWith('inotify wd:')) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** Watches held by all processes of this user: what the system-wide limit is counted against. */
function watchesInUse(): number {
  const uid = process.getuid?.();
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (!m || Number(m[1]) !== uid) continue;
    } catch {
      continue;
    }
    n += watchesOf(pid);
  }
  return n;
}

const children: ChildProcess[] = [];
afterEach(() => {
  while (children.length) {
    const c = children.pop()!;
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
});
afterAll(() => {
  if (existsSync(SAVED_LIMIT)) restoreSavedLimit();
});

const record = (file: number, n: number): string => JSON.stringify({ id: `f${file}-${n}`, file, n, timestamp: Date.now() }) + '\n';

describe('inotify watches exhausted', () => {
  it(`${FILES} followed files with ${WATCHES} watches left: all appends emitted, one inotify warning`, { timeout: 90_000 }, async (ctx) => {
    const { mode, missing } = chooseMode();
    if (missing && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(missing);
    if (missing) ctx.skip(missing);
    if (mode === 'sysctl') restoreSavedLimit();

    const dir = workdir('ordertail-watch-limit-');
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const paths = Array.from({ length: FILES }, (_, i) => join(logs, `f${String(i).padStart(2, '0')}.ndjson`));
    paths.forEach((p, i) => writeFileSync(p, record(i, 0)));
    const out = join(dir, 'out.ndjson');

    const engineArgs = [
      CLI, 'run', '--input', join(logs, '*.ndjson'), '--sink', `file:${out}`,
      '--no-checkpoint', '--no-metrics', '--workers', '2', '--log-level', 'warn',
    ];
    let stderr = '';
    let child: ChildProcess;
    let restore: (() => void) | undefined;
    try {
      if (mode === 'userns') {
        // `unshare` and `sh -c ... exec` keep the pid: child.pid is the engine's.
        child = spawn(
          'unshare',
          ['--user', '--map-root-user', 'sh', '-c', 'echo "$0" > /proc/sys/user/max_inotify_watches && exec "$@"', String(WATCHES), process.execPath, ...engineArgs],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
      } else {
        const old = readFileSync(SYSCTL, 'utf8').trim();
        writeFileSync(SAVED_LIMIT, old);
        restore = () => {
          writeFileSync(SYSCTL, old);
          rmSync(SAVED_LIMIT, { force: true });
          restore = undefined;
        };
        writeFileSync(SYSCTL, String(watchesInUse() + WATCHES));
        child = spawn(process.execPath, engineArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
      }
      children.push(child);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (s: string) => (stderr += s));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));

      // Any output means start-up is over: every start-up file has tried for its watch
      // (synchronously, before the first range result can be handled).
      await until(() => readLines(out).length === FILES || child.exitCode !== null, 30_000, `the ${FILES} start-up records (stderr: ${stderr})`);
      restore?.();
      expect(child.exitCode, stderr).toBeNull();
      expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).toContain('ordertail');
      const held = watchesOf(child.pid!);
      // In its own namespace the engine gets exactly what is left; under the system-wide
      // limit other processes may free watches meanwhile, so only "not all of them" holds.
      if (mode === 'userns') expect(held, 'inotify watches the engine holds').toBeLessThanOrEqual(WATCHES);
      else expect(held, 'inotify watches the engine holds').toBeLessThan(FILES);

      // Appends after start, two rounds, one line per file each: the polled files too.
      for (let round = 1; round <= 2; round++) {
        paths.forEach((p, i) => appendFileSync(p, record(i, round)));
        const want = FILES * (round + 1);
        await until(() => readLines(out).length >= want, 15_000, `${want} records after append round ${round} (have ${readLines(out).length})`);
      }
      // Nothing more arrives late (duplicates would).
      await new Promise((r) => setTimeout(r, 600));
      const ids = readLines(out).map((l) => (JSON.parse(l) as { id: string }).id);
      const expected = paths.flatMap((_, i) => [0, 1, 2].map((n) => `f${i}-${n}`));
      expect(ids.length).toBe(expected.length);
      expect([...ids].sort()).toEqual([...expected].sort());

      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
      expect(code, stderr).toBe(0);

      // Parsed, so that paths (which never contain "inotify" here) are not what matches.
      const lines = stderr.split('\n').filter((l) => l.trim() !== '');
      const entries = lines.map((l): { level?: unknown; msg?: unknown } => {
        try {
          return JSON.parse(l) as { level?: unknown; msg?: unknown };
        } catch {
          return { msg: l };
        }
      });
      const aboutInotify = entries.filter((e) => /inotify/i.test(String(e.msg)));
      console.log(`inotify fallback (${mode}): engine held ${held} watches for ${FILES} files; warnings mentioning inotify: ${aboutInotify.length}\n${lines.join('\n')}`);
      expect(aboutInotify.length, `stderr:\n${stderr}`).toBe(1);
      // pino's warn level, as a label (the CLI's formatter) or as its number.
      expect(['warn', 40]).toContain(aboutInotify[0]!.level);
    } finally {
      restore?.();
    }
  });
});
