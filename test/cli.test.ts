import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const BIN = resolve(import.meta.dirname, '../bin/ordertail.js');
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

function expectUsageError(args: string[], mention: RegExp): void {
  const r = cli(args);
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(mention);
  expect(r.stdout).toBe('');
}

describe('CLI usage errors exit 2 with one clear line', () => {
  it('unknown flag', () => expectUsageError(['run', '--input', 'x', '--frobnicate'], /unknown option '--frobnicate'/));
  it('bad duration', () => expectUsageError(['run', '--input', 'x', '--dedup-window', '10 parsecs'], /dedup-?[wW]indow.*duration.*'10 parsecs'/));
  it('a compound duration (1h30m, 2m 30s) is read as the sum of its parts', () => {
    const dir = workdir();
    writeFileSync(join(dir, 'a.ndjson'), '{"id":1}\n');
    for (const [text, ms] of [['1h30m', 5_400_000], ['2m 30s', 150_000]] as const) {
      const r = cli(['run', '--once', '--no-metrics', '--dedup-window', text, join(dir, 'a.ndjson')]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`window ${ms} ms`);
    }
    expectUsageError(['run', '--input', 'x', '--dedup-window', '1h30'], /dedupWindow: expected a duration such as 60s, 500ms, 5m, 1h30m, got '1h30'/);
  });
  it('bad worker count', () => expectUsageError(['run', '--input', 'x', '--workers', '0'], /workers.*integer/));
  it('bad --from', () => expectUsageError(['run', '--input', 'x', '--from', 'middle'], /from/));
  it('bad --dedup-impl', () => expectUsageError(['run', '--input', 'x', '--dedup-impl', 'fast'], /dedup-impl.*auto, js, native/));
  it('bad --sink-page-cache', () => expectUsageError(['run', '--input', 'x', '--sink-page-cache', 'forget'], /sink-page-cache.*drop, keep/));
  it('missing input says how to name files or a glob', () => {
    expectUsageError(['run', '--once'], /^ordertail: nothing to read: name the files \(ordertail run --once a\.ndjson b\.ndjson\) or a glob \(--input/);
    expectUsageError(['run'], /^ordertail: nothing to read/);
  });
  it('a sink given as a bare path or as - is answered with the spelling meant', () => {
    expectUsageError(['run', '--once', '--input', 'x', '--sink', 'out.ndjson'], /sink: expected .*, got 'out\.ndjson'; did you mean 'file:out\.ndjson'\?$/);
    expectUsageError(['run', '--once', '--input', 'x', '--sink', '-'], /sink: expected .*, got '-'; did you mean 'stdout'\?$/);
    expectUsageError(['collect', '--once', '--exchange', 'x', '--sink', 'out.ndjson'], /^ordertail: --sink: expected .*, got 'out\.ndjson'; did you mean 'file:out\.ndjson'\?$/);
  });
  it('collect with no exchange says how to name one', () => {
    expectUsageError(['collect', '--once'], /^ordertail: nothing to poll: name the exchanges \(ordertail collect --exchange binanceusdm --exchange bybit\) or give a --config with a collector: section$/);
  });
  it('a misspelt command or flag is answered with the one meant, on the one line', () => {
    expectUsageError(['runn', '--once'], /^error: unknown command 'runn' \(Did you mean run\?\)$/);
    expectUsageError(['run', '--onse', 'x'], /^error: unknown option '--onse' \(Did you mean --once\?\)$/);
  });
  it('config key of the wrong type names the key', () => {
    const dir = workdir();
    const config = join(dir, 'c.yaml');
    writeFileSync(config, 'input: ["*.ndjson"]\nworkers: many\n');
    expectUsageError(['run', '--config', config], /workers.*'many'/);
  });
  it('unknown config key is named', () => {
    const dir = workdir();
    const config = join(dir, 'c.yaml');
    writeFileSync(config, 'input: x\ndedup-windw: 5s\n');
    expectUsageError(['run', '--config', config], /config .*c\.yaml: unknown key 'dedup-windw'; did you mean 'dedup-window'\?/);
  });
  it('a sink or dead-letter file that cannot be opened is named with why, and nothing is read or written', () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":"1"}\n');
    mkdirSync(join(dir, 'a-directory'));
    const run = (...more: string[]): string[] => ['run', '--once', '--no-metrics', '--input', input, ...more];
    expectUsageError(run('--sink', `file:${join(dir, 'missing', 'out.ndjson')}`), /^ordertail: sink file:.*out\.ndjson cannot be opened: its directory .*missing does not exist \(ENOENT\)$/);
    expectUsageError(run('--sink', `file:${join(dir, 'a-directory')}`), /sink file:.*a-directory cannot be opened: it is a directory \(EISDIR\)$/);
    expectUsageError(run('--sink', `file:${join(dir, 'out.ndjson')}`, '--dead-letter', join(dir, 'missing', 'dl.ndjson')), /^ordertail: dead-letter file .*dl\.ndjson cannot be opened: its directory .*missing does not exist \(ENOENT\)$/);
    expect(readdirSync(dir).sort()).toEqual(['a-directory', 'in.ndjson']);
  });
  it('a checkpoint directory that cannot be one is named with why (a file, under a file, where mkdir cannot make it)', () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":"1"}\n');
    const run = (checkpoint: string): string[] => ['run', '--once', '--no-metrics', '--input', input, '--sink', `file:${join(dir, 'out.ndjson')}`, '--checkpoint', checkpoint];
    expectUsageError(run(input), /^ordertail: checkpoint directory .*in\.ndjson cannot be used: .*in\.ndjson is not a directory$/);
    expectUsageError(run(join(input, 'state')), /^ordertail: checkpoint directory .*in\.ndjson\/state cannot be used: .*ENOTDIR$/);
    // procfs answers ENOENT to a mkdir under a directory that exists: Node's recursive mkdir spun on it forever.
    expectUsageError(run('/proc/ordertail-state'), /^ordertail: checkpoint directory \/proc\/ordertail-state cannot be used: mkdir \/proc\/ordertail-state: ENOENT$/);
    expect(readdirSync(dir)).toEqual(['in.ndjson']);
  });
  it('two outputs named as one file are refused, naming both', () => {
    const dir = workdir();
    const out = join(dir, 'out.ndjson');
    expectUsageError(['run', '--once', '--no-metrics', '--input', join(dir, '*.ndjson'), '--sink', `file:${out}`, '--dead-letter', join(dir, '.', 'out.ndjson')], /deadLetter: .*out\.ndjson is also the sink file/);
  });
  it('an input path that is also the sink or the dead-letter file is refused; a glob matching them is read without them', () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":"1"}\n');
    expectUsageError(['run', '--once', '--no-metrics', input, '--sink', `file:${join(dir, '.', 'in.ndjson')}`], /input: .*in\.ndjson is also the sink file; an engine does not read its own output/);
    expectUsageError(['run', '--no-metrics', '--no-checkpoint', '--input', input, '--dead-letter', input], /input: .*in\.ndjson is also the deadLetter file/);
    expect(readFileSync(input, 'utf8')).toBe('{"id":"1"}\n');
    const r = cli(['run', '--once', '--no-metrics', '--input', join(dir, '*.ndjson'), '--sink', `file:${join(dir, 'out.ndjson')}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/out\.ndjson matches the input glob but is an output of this engine; not read/);
  });
  it('unreadable config file is named', () => expectUsageError(['run', '--config', '/nonexistent/c.yaml'], /\/nonexistent\/c\.yaml.*ENOENT/));
});

describe('CLI runs', () => {
  it('stdout that cannot be written (ENOSPC) fails the run with exit 1, naming stdout; a reader that leaves does not', () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":"1"}\n{"id":"2"}\n');
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, 'run', '--once', '--no-metrics', '--input', input], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', full, 'pipe'] });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^ordertail: writing to stdout failed: ENOSPC/);
    } finally {
      closeSync(full);
    }
    const gone = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" run --once --no-metrics --input "${input}" | head -c 0; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 30_000 });
    expect(gone.stdout.trim()).toBe('0');
  });

  it('--help documents every flag and exits 0', () => {
    const r = cli(['run', '--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--input', '--once', '--from', '--sink', '--dead-letter', '--workers', '--dedup-key', '--dedup-window', '--dedup-capacity', '--event-time', '--max-record-bytes', '--config']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('--version prints the package version and exits 0', () => {
    const { version } = JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it('files named as arguments are read as --input reads them, beside it', () => {
    const dir = workdir();
    writeFileSync(join(dir, 'a.ndjson'), '{"id":1}\n{"id":2}\n');
    writeFileSync(join(dir, 'b.ndjson'), '{"id":2}\n{"id":3}\n');
    writeFileSync(join(dir, 'c.json'), '[{"id":3},{"id":4}]');
    const r = cli(['run', '--once', '--no-metrics', '--workers', '1', join(dir, 'a.ndjson'), join(dir, 'b.ndjson'), '--input', join(dir, '*.json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: number }).id).sort()).toEqual([1, 2, 3, 4]);
    const missing = cli(['run', '--once', '--no-metrics', join(dir, 'missing.ndjson')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^ordertail: input .*missing\.ndjson: no such file/);
  });

  it('--once to stdout with a config file, flags overriding it', () => {
    const dir = workdir();
    writeFileSync(join(dir, 'a.ndjson'), '{"id":1,"k":"x"}\n{"id":1,"k":"y"}\n{"id":2,"k":"x"}\n');
    const config = join(dir, 'c.yaml');
    writeFileSync(config, `input: ${join(dir, 'a.ndjson')}\ndedup-key: id\nworkers: 1\n`);
    const r = cli(['run', '--config', config, '--once', '--dedup-key', 'k']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"id":1,"k":"x"}\n{"id":1,"k":"y"}\n');
  });

  it('SIGTERM in follow mode drains, flushes and exits 0 within 5 s', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '{"id":1}\n');
    const child = spawn(process.execPath, [BIN, 'run', '--input', log, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!out.includes('{"id":1}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    appendFileSync(log, '{"id":2}\n');
    while (!out.includes('{"id":2}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const killedAt = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(out).toBe('{"id":1}\n{"id":2}\n');
  });

  it('a follower stopped ends with the same summary line as --once, and names a line still being written', async () => {
    const dir = workdir();
    const log = join(dir, 'live.ndjson');
    writeFileSync(log, '{"id":1}\n{"id":2}\n{"id":1}\n{"id":3,"half');
    for (const checkpoint of [['--no-checkpoint'], ['--checkpoint', join(dir, 'ck')]]) {
      const child = spawn(process.execPath, [BIN, 'run', '--input', log, '--workers', '1', '--no-metrics', ...checkpoint], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const deadline = Date.now() + 15_000;
      while (!out.includes('{"id":2}') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGTERM');
      expect(await new Promise<number | null>((r) => child.on('close', (c) => r(c)))).toBe(0);
      const lines = err.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; unreadBytes?: number });
      if (checkpoint[0] === '--no-checkpoint') expect(lines.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^stopped: read 3, emitted 2, duplicates 1, rejected 0, without key 0, /));
      expect(lines.find((l) => l.unreadBytes !== undefined)).toEqual(
        expect.objectContaining({
          unreadBytes: Buffer.byteLength('{"id":3,"half'),
          msg: expect.stringMatching(checkpoint[0] === '--no-checkpoint' ? /not read \(a line still being written\); without a checkpoint, a later run does not know/ : /the checkpoint resumes before them, so a restart reads them$/),
        }),
      );
    }
  });

  // /dev/full fails every write with ENOSPC: the large batch goes through the
  // background writev, the small one through the synchronous path.
  for (const [what, records] of [['large batches (background writes)', 20_000], ['one small batch', 20]] as const) {
    it(`a sink that cannot be written (ENOSPC, ${what}): exit 1 with the sink named, no crash`, () => {
      const dir = workdir();
      const input = join(dir, 'orders.ndjson');
      writeFileSync(input, Array.from({ length: records }, (_, i) => `{"id":${i},"pad":"${'x'.repeat(100)}"}`).join('\n') + '\n');
      const r = cli(['run', '--once', '--input', input, '--sink', 'file:/dev/full', '--no-metrics', '--workers', '2']);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain('writing to file:/dev/full failed: ENOSPC');
      expect(r.stderr).not.toMatch(/triggerUncaughtException|^\s+at /m);
      // The summary does not read as a run that wrote its records ("done: … emitted N").
      expect(r.stderr).toMatch(/"msg":"failed: read \d+, emitted \d+, .*the one that failed did not write them all: without a checkpoint, a rerun starts over"/);
      expect(r.stderr).not.toContain('"msg":"done: ');
    });
  }
});
