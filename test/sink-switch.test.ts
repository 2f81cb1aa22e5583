/**
 * A reload switches the sink from one file to another at a checkpoint
 * boundary (README, "Reloading the configuration"). Killed with SIGKILL at
 * any moment around a switch (before it lands, right after, later) and
 * restarted with the config in force, the engine still writes every record
 * once across the files it switched between. Real CLI processes, a writer
 * appending throughout.
 */
import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from './helpers/cli-process.js';
import { saveConfig } from './helpers/config-file.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const WRITER = resolve(import.meta.dirname, 'helpers/line-writer.mjs');


const ids = (path: string): string[] => readLines(path).map((l) => (JSON.parse(l) as { id: string }).id);

describe('a restart from a checkpoint taken while the sink was being switched', () => {
  it('cuts the old file back to what it committed and the new one to where it began, whichever sink the config names now', async () => {
    const { openOutputs } = await import('../dist/src/engine/outputs.js');
    const { resolveOptions } = await import('../dist/src/index.js');
    for (const configured of ['b', 'c', 'stdout'] as const) {
      const dir = workdir();
      const a = join(dir, 'a.ndjson');
      const b = join(dir, 'b.ndjson');
      writeFileSync(a, 'x'.repeat(100));
      writeFileSync(b, 'y'.repeat(50));
      const restored = {
        generation: 7,
        writtenAtMs: Date.now(),
        sink: { kind: 'file' as const, path: a, committedBytes: 60 },
        nextSink: { path: b, committedBytes: 20 },
        dedup: { format: 'entries' as const, file: '', byteLength: 0, windowMs: 60_000, capacity: 1024 },
        files: [],
      };
      const sink = configured === 'stdout' ? 'stdout' : `file:${join(dir, `${configured}.ndjson`)}`;
      const warnings: string[] = [];
      const outputs = openOutputs(resolveOptions({ input: [join(dir, 'in.ndjson')], sink }), restored, undefined, (m) => warnings.push(m));
      await outputs.sink.close();
      expect(statSync(a).size, configured).toBe(60);
      expect(statSync(b).size, configured).toBe(20);
      expect(warnings.some((w) => w.includes(`${a} cut back to the 60 bytes`)), warnings.join('\n')).toBe(true);
    }
  });
});

describe('sink switched by a reload', () => {
  it('stdout → file → stdout while a writer appends: every record once across stdout and the file', async () => {
    const dir = workdir();
    const live = join(dir, 'live.ndjson');
    const file = join(dir, 'out.ndjson');
    writeFileSync(live, '');
    const configPath = join(dir, 'ordertail.yaml');
    const config = (sink: string): Record<string, unknown> => ({ input: [live], sink, checkpoint: join(dir, 'cp'), workers: 1 });
    saveConfig(configPath, config('stdout'));
    const p = startCli(['run', '--config', configPath, '--no-metrics']);
    await p.waitFor(/ready: following/, 'stderr', 30_000);
    const writer = spawn(process.execPath, [WRITER, '--file', live, '--rate', '4000', '--duration', '4000', '--prefix', 'w'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let writerOut = '';
    writer.stdout.on('data', (d: Buffer) => (writerOut += d.toString()));
    const stdoutIds = (): string[] => p.stdout().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    await until(() => p.stdout().split('\n').length > 1000, 20_000, 'records on stdout');
    saveConfig(configPath, config(`file:${file}`));
    await p.waitFor(/sink switched: stdout → file:/, 'stderr', 20_000);
    await until(() => readLines(file).length > 1000, 20_000, 'records in the file');
    saveConfig(configPath, config('stdout'));
    await p.waitFor(/sink switched: file:\S+ → stdout/, 'stderr', 20_000);
    await new Promise<void>((r) => writer.on('exit', () => r()));
    const written = (JSON.parse(writerOut.trim().split('\n').pop()!) as { written: number }).written;
    await until(() => readLines(file).length + p.stdout().split('\n').length - 1 >= written, 30_000, `all ${written} records out`);
    p.child.kill('SIGTERM');
    expect(await p.exit(15_000), p.stderr()).toBe(0);
    const got = [...stdoutIds(), ...ids(file)];
    expect(got.length - new Set(got).size, 'records written twice').toBe(0);
    expect(got.length).toBe(written);
  }, 60_000);


  it('every record once across the two files, killed before a switch lands, right after one, and later', async () => {
    const dir = workdir();
    const live = join(dir, 'live.ndjson');
    const files = { a: join(dir, 'a.ndjson'), b: join(dir, 'b.ndjson') };
    writeFileSync(live, '');
    const configPath = join(dir, 'ordertail.yaml');
    const config = (sink: 'a' | 'b'): Record<string, unknown> => ({
      input: [live],
      sink: `file:${files[sink]}`,
      checkpoint: join(dir, 'cp'),
      checkpointInterval: '300ms',
      workers: 1,
    });
    const count = (): number => readLines(files.a).length + readLines(files.b).length;
    const start = async (sink: 'a' | 'b'): Promise<CliProcess> => {
      saveConfig(configPath, config(sink));
      const p = startCli(['run', '--config', configPath, '--no-metrics']);
      await p.waitFor(/ready: following/, 'stderr', 30_000);
      return p;
    };
    const writer = spawn(process.execPath, [WRITER, '--file', live, '--rate', '4000', '--duration', '60000', '--prefix', 'w'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let writerOut = '';
    writer.stdout.on('data', (d: Buffer) => (writerOut += d.toString()));
    const kill = async (p: CliProcess): Promise<void> => {
      p.child.kill('SIGKILL');
      await p.exit(15_000);
    };
    try {
      // 1: killed at once after the reload: the switch has most likely not landed.
      let p = await start('a');
      await until(() => count() > 2000, 20_000, 'records in a');
      saveConfig(configPath, config('b'));
      await new Promise((r) => setTimeout(r, 30));
      await kill(p);
      // 2: restarted on b; switched back to a, killed right after the switch.
      p = await start('b');
      const before = count();
      await until(() => count() > before + 2000, 20_000, 'records after restart 1');
      saveConfig(configPath, config('a'));
      await p.waitFor(/sink switched: file:\S+b\.ndjson → file:\S+a\.ndjson/, 'stderr', 20_000);
      await kill(p);
      // 3: restarted on a; switched to b, killed a while later.
      p = await start('a');
      saveConfig(configPath, config('b'));
      await p.waitFor(/sink switched: file:\S+a\.ndjson → file:\S+b\.ndjson/, 'stderr', 20_000);
      const after = count();
      await until(() => count() > after + 2000, 20_000, 'records after switch 3');
      await kill(p);
      // Last: restarted on b, the writer stopped, everything out, a clean stop.
      p = await start('b');
      writer.kill('SIGTERM');
      await new Promise<void>((r) => writer.on('exit', () => r()));
      const written = (JSON.parse(writerOut.trim().split('\n').pop()!) as { written: number }).written;
      await until(() => count() >= written, 30_000, `all ${written} records out`);
      p.child.kill('SIGTERM');
      expect(await p.exit(15_000), p.stderr()).toBe(0);
      const got = [...ids(files.a), ...ids(files.b)];
      expect(got.length - new Set(got).size, 'records written twice').toBe(0);
      const want = Array.from({ length: written }, (_, i) => `w-${i}`);
      const seen = new Set(got);
      expect(want.filter((id) => !seen.has(id)).slice(0, 5), 'records missing').toEqual([]);
      expect(got.length).toBe(written);
      expect(ids(files.a).length).toBeGreaterThan(0);
      expect(ids(files.b).length).toBeGreaterThan(0);
    } finally {
      writer.kill('SIGKILL');
    }
  }, 120_000);
});
