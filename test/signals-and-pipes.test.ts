/**
 * Signals and pipes: SIGTERM/SIGINT/SIGHUP (SIGHUP only without --config: with
 * one it reloads, test/config-reload.test.ts) stop gracefully (also during
 * start-up), `| head` is a quiet exit 0, and a shutdown deadline never leaves
 * half a record on stdout. A file sink on a special file (a named pipe,
 * /dev/null), which cannot be synced, takes every record and exits 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLines, workdir } from './helpers/workdir.js';
import { BIN, runCli, startCli } from './helpers/cli-process.js';
import { Engine } from '../dist/src/index.js';

const BASE = ['run', '--no-metrics', '--workers', '1', '--log-level', 'warn'];

function orders(path: string, from: number, count: number, pad = 0): void {
  appendFileSync(path, Array.from({ length: count }, (_, i) => `{"id":${from + i},"pad":"${'x'.repeat(pad)}"}`).join('\n') + '\n');
}

describe('stop signals', () => {
  it('SIGHUP in follow mode without --config: drained, final checkpoint written, exit 0 (a restart reads nothing again)', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const sink = join(dir, 'out.ndjson');
    orders(input, 0, 1000);
    const args = [...BASE, '--input', input, '--sink', `file:${sink}`, '--checkpoint', join(dir, 'cp'), '--checkpoint-interval', '1h'];
    const first = startCli(args);
    for (let i = 0; i < 200 && readLines(sink).length < 1000; i++) await new Promise((r) => setTimeout(r, 50));
    orders(input, 1000, 5);
    for (let i = 0; i < 200 && readLines(sink).length < 1005; i++) await new Promise((r) => setTimeout(r, 50));
    first.child.kill('SIGHUP');
    expect(await first.exit(10_000), first.stderr()).toBe(0);
    expect(readLines(sink)).toHaveLength(1005);
    // Only the final checkpoint (interval 1h) knows about the last 5 records.
    const again = startCli([...args.slice(0, 1), '--once', ...args.slice(1)]);
    expect(await again.exit(15_000), again.stderr()).toBe(0);
    expect(readLines(sink)).toHaveLength(1005);
  });

  it('SIGTERM while the CLI is still loading: exit 0 after a clean stop, not 143', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 0, 10);
    // Preloaded: sends the signal when the first parse worker thread is created (the CLI
    // starts them while it loads the engine), before the engine has started.
    const preload = join(dir, 'early-term.cjs');
    writeFileSync(
      preload,
      [
        "const threads = require('node:worker_threads');",
        'const Original = threads.Worker;',
        'let sent = false;',
        "threads.Worker = class extends Original { constructor(...args) { super(...args); if (!sent) { sent = true; process.kill(process.pid, 'SIGTERM'); } } };",
        "require('node:module').syncBuiltinESMExports();",
      ].join('\n'),
    );
    const p = startCli([...BASE, '--no-checkpoint', '--input', input], { env: { NODE_OPTIONS: `--require ${preload}` } });
    expect(await p.exit(15_000), p.stderr()).toBe(0);
  });
});

describe('pipes', () => {
  it('`run … | head -1`: the reader leaving is a quiet exit 0, no stack trace', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 0, 100_000, 40);
    const child = spawn(process.execPath, [BIN, ...BASE, '--once', '--input', input], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read the first chunk, then close our end, as head does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|Unhandled|^\s+at /m);
  });

  it('SIGTERM with a slow stdout reader: past the deadline stdout ends on a whole record (exit 1, the drop reported)', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 0, 60_000, 200); // ~13 MB
    const child = spawn(process.execPath, [BIN, ...BASE, '--no-checkpoint', '--input', input], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const chunks: Buffer[] = [];
    // A reader at ~1.3 MB/s: the drain cannot finish within 5 s. Flowing mode,
    // paused for 50 ms after each chunk (at most 64 KiB): nothing read is lost
    // (mixing read(n) in paused mode with a later 'data' listener lost a block
    // now and then under load).
    let received = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 50);
    });
    const ended = new Promise((r) => child.stdout.on('end', r));
    // Stop once output flows (not after a fixed time: start-up is slower on a busy machine).
    for (let i = 0; i < 300 && received < 256 * 1024; i++) await new Promise((r) => setTimeout(r, 20));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    const code = await exited;
    await ended;
    const out = Buffer.concat(chunks).toString();
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/shutdown took longer than 5 s; exiting \(\d+ bytes of records not yet written to stdout dropped/);
    expect(out.length).toBeGreaterThan(0);
    expect(out.endsWith('\n'), `stdout ends with ${JSON.stringify(out.slice(-120))}; stderr: ${stderr}`).toBe(true);
    for (const line of out.slice(0, -1).split('\n')) expect(() => JSON.parse(line), line.slice(0, 120)).not.toThrow();
    // One file, in order: what came out is a prefix of the input, no record skipped or repeated.
    const ids = out.slice(0, -1).split('\n').map((line) => (JSON.parse(line) as { id: number }).id);
    expect(ids.findIndex((id, i) => id !== i)).toBe(-1);
  }, 30_000);

  it('library: engines on stdout one after another leave no listener on process.stdout', async () => {
    const dir = workdir();
    const input = join(dir, 'empty.ndjson');
    writeFileSync(input, '');
    const before = process.stdout.listenerCount('error');
    for (let i = 0; i < 12; i++) {
      const engine = new Engine({ input, once: true, sink: 'stdout', workers: 1 });
      await engine.start();
      await engine.finished();
      await engine.stop();
    }
    expect(process.stdout.listenerCount('error')).toBe(before);
  });
});

describe('a file sink on a special file', () => {
  it('file:/dev/null takes every record and exits 0', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 0, 20_000, 50);
    const r = await runCli(['run', '--once', '--no-metrics', '--log-level', 'info', '--input', input, '--sink', 'file:/dev/null']);
    expect(r.stderr).not.toMatch(/EINVAL/);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"emitted":20000/);
  });

  it('file: on a named pipe: the reader gets every record, exit 0', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    orders(input, 0, 20_000, 50);
    const fifo = join(dir, 'out.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
    const readerDone = new Promise<void>((resolve) => reader.on('close', () => resolve()));
    const r = await runCli(['run', '--once', '--no-metrics', '--log-level', 'warn', '--input', input, '--sink', `file:${fifo}`]);
    await readerDone;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(got.split('\n').filter(Boolean)).toHaveLength(20_000);
  });
});
