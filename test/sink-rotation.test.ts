/**
 * The file sink rotated by real logrotate (Debian package) while a follower
 * writes it, at thousands of records a second, with checkpoints: in `create`
 * mode (the file renamed away, a new one made) each record is in exactly one
 * of the rotated files and the current one, also when the engine is killed
 * right after a rotation and restarted; in `copytruncate` mode nothing is
 * repeated and a restart is not refused; rotated while the engine is stopped,
 * the restart takes the new file as a new output. The dead-letter file rotated
 * likewise keeps every rejected record once.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './helpers/cli-process.js';
import { until, workdir } from './helpers/workdir.js';

const WRITER = resolve(import.meta.dirname, 'helpers/line-writer.mjs');
const LOGROTATE = ['/usr/sbin/logrotate', '/sbin/logrotate', '/usr/bin/logrotate'].find((p) => existsSync(p));
const LOGROTATE_MISSING = LOGROTATE ? undefined : 'logrotate not found (Debian package logrotate: apt-get install -y logrotate)';
if (LOGROTATE_MISSING && process.env.CI !== 'true') console.log(`sink-rotation: skipped, ${LOGROTATE_MISSING}`);

const RATE = 3000;
const DURATION_MS = 3000;
const ROTATE_AT_MS = [700, 1400, 2100];

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Setup {
  dir: string;
  input: string;
  outDir: string;
  conf: string;
  state: string;
  args: string[];
}

function setUp(mode: 'create' | 'copytruncate'): Setup {
  const dir = workdir('ordertail-sink-rotation-');
  const outDir = join(dir, 'out');
  mkdirSync(outDir);
  const sink = join(outDir, 'orders.ndjson');
  const conf = join(dir, 'logrotate.conf');
  // logrotate as root refuses a config writable by group or others.
  writeFileSync(conf, `${sink} {\n  rotate 50\n  nocompress\n  ${mode}\n  missingok\n}\n`, { mode: 0o644 });
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, '');
  const args = ['run', '--no-metrics', '--checkpoint', join(dir, 'ck'), '--checkpoint-interval', '300ms', '--sink', `file:${sink}`, input];
  return { dir, input, outDir, conf, state: join(dir, 'logrotate.state'), args };
}

function logrotate(s: Setup): Promise<void> {
  return new Promise((done, fail) => {
    execFile(LOGROTATE!, ['-s', s.state, '-f', s.conf], { encoding: 'utf8', timeout: 20_000 }, (err, _out, stderr) => (err ? fail(new Error(`logrotate: ${stderr}`)) : done()));
  });
}

/** How many times each id is in the sink file and its rotated copies. */
function idsInSink(outDir: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of readdirSync(outDir).filter((n) => /^orders\.ndjson(\.\d+)?$/.test(n))) {
    for (const line of readFileSync(join(outDir, name), 'utf8').split('\n')) {
      if (line.length === 0) continue;
      const id = (JSON.parse(line) as { id: string }).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** Runs the line writer on the input; resolves with how many lines it wrote, rotating the sink at ROTATE_AT_MS (`after` runs after each rotation). */
async function writeWhileRotating(s: Setup, after: (rotation: number) => Promise<void> = async () => {}): Promise<number> {
  const writer = spawn(process.execPath, [WRITER, '--file', s.input, '--mode', 'held', '--rate', String(RATE), '--duration', String(DURATION_MS), '--prefix', 'w', '--pad', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(writer);
  let out = '';
  writer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => writer.on('exit', (code) => r(code)));
  await until(() => out.includes('"ready"'), 10_000, 'the writer to start');
  const t0 = Date.now();
  for (const [i, at] of ROTATE_AT_MS.entries()) {
    const wait = t0 + at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await logrotate(s);
    await after(i);
  }
  expect(await exited).toBe(0);
  return (JSON.parse(out.trim().split('\n').pop()!) as { written: number }).written;
}

async function stop(engine: CliProcess): Promise<void> {
  engine.child.kill('SIGTERM');
  expect(await engine.exit(10_000), engine.stderr()).toBe(0);
}

const rotatedFiles = (outDir: string): string[] => readdirSync(outDir).filter((n) => /^orders\.ndjson\.\d+$/.test(n));

describe.skipIf(LOGROTATE_MISSING !== undefined)('the file sink rotated by logrotate while followed', () => {
  it('create: every record in exactly one of the files; the moves are logged', async () => {
    const s = setUp('create');
    const engine = startCli(s.args);
    await engine.waitFor(/ready: following/, 'stderr');
    const written = await writeWhileRotating(s);
    await until(() => idsInSink(s.outDir).size === written, 20_000, 'every record in the sink files');
    await stop(engine);
    const counts = idsInSink(s.outDir);
    expect(counts.size).toBe(written);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    expect(rotatedFiles(s.outDir).length).toBe(3);
    expect(engine.stderr().match(/was moved to .*orders\.ndjson\.1 \(rotated\)/g)).toHaveLength(3);
  });

  it('create, the engine killed right after each rotation and restarted: every record exactly once', async () => {
    const s = setUp('create');
    let engine = startCli(s.args);
    await engine.waitFor(/ready: following/, 'stderr');
    const written = await writeWhileRotating(s, async (rotation) => {
      // Before the engine noticed (it looks at each checkpoint, every 300 ms, and every second), around the switch to the new file, after it.
      await new Promise((r) => setTimeout(r, [10, 350, 1300][rotation]));
      engine.child.kill('SIGKILL');
      await engine.exit(5000);
      engine = startCli(s.args);
      await engine.waitFor(/ready: following/, 'stderr');
    });
    await until(() => idsInSink(s.outDir).size === written, 20_000, 'every record in the sink files');
    await new Promise((r) => setTimeout(r, 500));
    await stop(engine);
    const counts = idsInSink(s.outDir);
    expect(counts.size).toBe(written);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
  });

  it('copytruncate: nothing repeated, the engine writes on from the new length, and a restart is not refused', async () => {
    const s = setUp('copytruncate');
    let engine = startCli(s.args);
    await engine.waitFor(/ready: following/, 'stderr');
    const written = await writeWhileRotating(s);
    // Records the engine wrote between logrotate's copy and its truncate are lost by copytruncate itself.
    await until(() => engine.stderr().match(/truncated outside ordertail/g)?.length === 3, 10_000, 'three truncations noticed');
    await new Promise((r) => setTimeout(r, 1000));
    await stop(engine);
    const counts = idsInSink(s.outDir);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    expect(counts.size).toBeGreaterThan(written * 0.9);
    // Before: "has N bytes, fewer than the M the checkpoint committed", exit 2.
    appendFileSync(s.input, '{"id":"after-restart"}\n');
    engine = startCli(s.args);
    await engine.waitFor(/ready: following/, 'stderr');
    await until(() => idsInSink(s.outDir).has('after-restart'), 10_000, 'the record appended after the restart');
    await stop(engine);
    expect([...idsInSink(s.outDir)].filter(([, n]) => n !== 1)).toEqual([]);
  });

  it('the dead-letter file rotated (create, then copytruncate): every rejected record in exactly one of its files', async () => {
    const s = setUp('create');
    const deadLetter = join(s.outDir, 'rejects.ndjson');
    const conf = join(s.dir, 'dead-letter.logrotate.conf');
    const state = join(s.dir, 'dead-letter.logrotate.state');
    const rotate = (mode: string): void => {
      writeFileSync(conf, `${deadLetter} {\n  rotate 50\n  nocompress\n  ${mode}\n  missingok\n}\n`, { mode: 0o644 });
      const r = spawnSync(LOGROTATE!, ['-s', state, '-f', conf], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    };
    const engine = startCli([...s.args, '--dead-letter', deadLetter]);
    await engine.waitFor(/ready: following/, 'stderr');
    let bad = 0;
    const rejectsOnDisk = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const name of readdirSync(s.outDir).filter((n) => /^rejects\.ndjson(\.\d+)?$/.test(n))) {
        for (const line of readFileSync(join(s.outDir, name), 'utf8').split('\n').filter(Boolean)) {
          const sample = (JSON.parse(line) as { sample: string }).sample;
          counts.set(sample, (counts.get(sample) ?? 0) + 1);
        }
      }
      return counts;
    };
    const batch = (): void => {
      let text = '';
      for (let i = 0; i < 50; i++) text += `{"id":"ok-${bad}"}\nnot json ${bad++}\n`;
      appendFileSync(s.input, text);
    };
    for (const mode of ['create', 'copytruncate', 'create']) {
      batch();
      await until(() => rejectsOnDisk().size === bad, 10_000, 'the rejects so far');
      rotate(mode);
      // Noticed within a second (or at the next 300 ms checkpoint).
      await new Promise((r) => setTimeout(r, 1300));
    }
    batch();
    await until(() => rejectsOnDisk().size === bad, 10_000, 'the rejects after the last rotation');
    await stop(engine);
    const counts = rejectsOnDisk();
    expect(counts.size).toBe(200);
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    // The last batch went to the new file at the configured path, not into a rotated one.
    expect(readFileSync(deadLetter, 'utf8')).toContain('not json 199');
    expect(engine.stderr()).toMatch(/dead-letter file .*rejects\.ndjson was moved to .*rejects\.ndjson\.1 \(rotated\)/);
    expect(engine.stderr()).toMatch(/dead-letter file .*rejects\.ndjson was truncated outside ordertail/);
  });

  it('rotated while the engine is stopped: the restart warns and writes a new file, every record once', async () => {
    const s = setUp('create');
    appendFileSync(s.input, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: `a-${i}` }) + '\n').join(''));
    let engine = startCli(s.args);
    await until(() => idsInSink(s.outDir).size === 100, 10_000, 'the first records');
    await stop(engine);
    await logrotate(s);
    appendFileSync(s.input, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: `b-${i}` }) + '\n').join(''));
    // Before: "output file … has 0 bytes, fewer than the … the checkpoint committed", exit 2.
    engine = startCli(s.args);
    await until(() => idsInSink(s.outDir).size === 200, 10_000, 'the records appended while stopped');
    await stop(engine);
    // Found beside it by its inode, and cut back to what the checkpoint covers (nothing to cut after a clean stop).
    expect(engine.stderr()).toMatch(/ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED.*output .*orders\.ndjson\.1, now .*orders\.ndjson: .*orders\.ndjson\.1 cut back to the \d+ bytes/);
    expect([...idsInSink(s.outDir)].filter(([, n]) => n !== 1)).toEqual([]);
    expect(readFileSync(join(s.outDir, 'orders.ndjson'), 'utf8').split('\n').filter(Boolean)).toHaveLength(100);
  });
});


describe('outputs that are not regular files, across restarts', () => {
  // A FIFO or /dev/null holds nothing a restart could cut back, and has no identity to
  // check: before, every restart warned that the sink "is not the file the checkpoint
  // committed N bytes to (it is missing)".
  it('a FIFO sink and /dev/null dead letters: restarts resume, no warning about the outputs, every record once down the FIFO', async () => {
    const dir = workdir('ordertail-fifo-');
    const input = join(dir, 'orders.ndjson');
    const fifo = join(dir, 'sink.fifo');
    const received = join(dir, 'received.ndjson');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // One reader for all runs: opened read-write so it never sees end-of-file between writers.
    const reader = spawn('sh', ['-c', `exec cat 0<>"${fifo}" >"${received}"`], { stdio: 'ignore' });
    children.push(reader);
    const order = (i: number): string => `{"id":"f${i}","timestamp":${1_700_000_000_000 + i},"note":"ордер"}\n`;
    writeFileSync(input, Array.from({ length: 50 }, (_, i) => order(i)).join(''));
    const lines = (): string[] => readFileSync(received, 'utf8').split('\n').filter(Boolean);
    for (const [run, total] of [[0, 50], [1, 80], [2, 110]] as const) {
      if (run > 0) appendFileSync(input, Array.from({ length: 30 }, (_, i) => order(total - 30 + i)).join(''));
      const p = startCli(['run', input, '--sink', `file:${fifo}`, '--dead-letter', '/dev/null', '--checkpoint', join(dir, 'ckpt'), '--no-metrics']);
      await until(() => existsSync(received) && lines().length >= total, 10_000, `${total} records down the FIFO (run ${run})`);
      p.child.kill('SIGTERM');
      expect(await p.exit(10_000), p.stderr()).toBe(0);
      expect(p.stderr()).not.toContain('ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED');
    }
    await new Promise((r) => setTimeout(r, 200));
    const ids = lines().map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual(Array.from({ length: 110 }, (_, i) => `f${i}`));
  });
});
