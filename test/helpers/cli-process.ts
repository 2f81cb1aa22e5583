import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach } from 'vitest';

export const BIN = resolve(import.meta.dirname, '../../bin/ordertail.js');

/** Why tests that drop privileges cannot run here (undefined: they can). */
export const NOBODY_MISSING: string | undefined =
  process.getuid?.() !== 0 ? 'not root: cannot run the engine as another user' : spawnSync('setpriv', ['--version']).error ? 'setpriv (util-linux) not installed' : undefined;

/**
 * Set when nobody cannot run the CLI from this checkout (a clone under a
 * private home directory): not a missing tool, so it skips even where tools
 * are required.
 */
export const NOBODY_CANNOT_READ: string | undefined =
  NOBODY_MISSING === undefined &&
  spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)}, require('fs').constants.R_OK)`]).status !== 0
    ? `user nobody cannot read ${BIN} (the checkout is not world-readable)`
    : undefined;

/** Why tests that mount a small tmpfs cannot run here. */
export const MOUNT_MISSING: string | undefined = process.getuid?.() !== 0 ? 'not root: cannot mount a tmpfs' : undefined;

export interface CliOptions {
  /** Run as nobody (uid/gid 65534, no groups). */
  asNobody?: boolean;
  /** A shell line run before exec'ing the CLI (`ulimit -n 256`). */
  shellPrefix?: string;
  env?: NodeJS.ProcessEnv;
  /** A command the CLI runs under, e.g. `['ip', 'netns', 'exec', NS]`: another host's network. */
  via?: readonly string[];
}

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout (or stderr) contains `text`; rejects after `timeoutMs`. */
  waitFor(text: string | RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<void>;
  /** Exit code (or 128 + signal number), or 'timeout' if it did not exit in time (it is then killed). */
  exit(timeoutMs?: number): Promise<number | 'timeout'>;
}

/** Children still running when their test ends (it failed midway) are killed, never left behind. */
const running = new Set<ChildProcessWithoutNullStreams>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

export function startCli(args: string[], options: CliOptions = {}): CliProcess {
  let command = process.execPath;
  let argv = [BIN, ...args];
  if (options.shellPrefix) {
    argv = ['-c', `${options.shellPrefix}; exec "$0" "$@"`, command, ...argv];
    command = '/bin/sh';
  }
  if (options.asNobody) {
    argv = ['--reuid=65534', '--regid=65534', '--clear-groups', command, ...argv];
    command = 'setpriv';
  }
  if (options.via?.length) {
    argv = [...options.via.slice(1), command, ...argv];
    command = options.via[0]!;
  }
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } }) as unknown as ChildProcessWithoutNullStreams;
  running.add(child);
  child.on('exit', () => running.delete(child));
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code, signal) => r(code ?? 128 + (SIGNALS[signal ?? ''] ?? 0))));
  // Resolve only once both pipes are drained, so stdout() is complete after exit().
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    async waitFor(text, stream = 'stdout', timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      const has = () => (typeof text === 'string' ? out[stream].includes(text) : text.test(out[stream]));
      while (!has()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)} on ${stream}; stderr: ${out.stderr.slice(-2000)}`);
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${String(text)} on ${stream}; stderr: ${out.stderr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async exit(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
      clearTimeout(timer);
      if (result === 'timeout') child.kill('SIGKILL');
      await closed;
      return result;
    },
  };
}

/** Run to completion. */
export async function runCli(args: string[], options: CliOptions & { timeoutMs?: number } = {}): Promise<{ code: number | 'timeout'; stdout: string; stderr: string }> {
  const p = startCli(args, options);
  const code = await p.exit(options.timeoutMs);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** stderr without pino's JSON log lines: what the CLI itself printed. */
export function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.length > 0 && !l.startsWith('{'));
}
