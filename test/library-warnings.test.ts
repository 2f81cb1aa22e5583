/**
 * Warnings carry stable codes (all listed in the README), and `logLevel` is
 * honoured in library mode: the engine logs its own events (pino JSON on
 * stderr) when given a level and no logger, and stays silent without one.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engine, WARNING_CODES, ERROR_CODES, type WarningCode } from '../dist/src/index.js';
import { workdir } from './helpers/workdir.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('warnings', () => {
  it('a warning event carries its code: an output matched by the input glob', async () => {
    const dir = workdir();
    writeFileSync(join(dir, 'in.ndjson'), '{"id":1}\n');
    writeFileSync(join(dir, 'out.ndjson'), '');
    const engine = new Engine({ input: join(dir, '*.ndjson'), once: true, workers: 1, sink: `file:${join(dir, 'out.ndjson')}` });
    const warnings: [string, WarningCode][] = [];
    engine.on('warning', (message, code) => warnings.push([message, code]));
    await engine.start();
    await engine.finished();
    await engine.stop();
    expect(warnings).toEqual([[expect.stringContaining('is an output of this engine'), 'ORDERTAIL_INPUT_IS_OUTPUT']]);
  });

  it('the README lists every warning code and every error code', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const code of [...WARNING_CODES, ...ERROR_CODES]) expect(readme, code).toContain(`\`${code}\``);
  });
});

describe('logLevel in library mode', () => {
  function run(logLevel: string | undefined): string {
    const dir = workdir();
    writeFileSync(join(dir, 'in.ndjson'), '{"id":1}\n');
    writeFileSync(join(dir, 'out.ndjson'), '');
    const script = `
import { Engine } from ${JSON.stringify(join(root, 'dist', 'src', 'index.js'))};
const engine = new Engine({ input: ${JSON.stringify(join(dir, '*.ndjson'))}, once: true, workers: 1, sink: ${JSON.stringify(`file:${join(dir, 'out.ndjson')}`)}${logLevel ? `, logLevel: '${logLevel}'` : ''} });
await engine.start();
await engine.finished();
await engine.stop();
`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stderr;
  }

  it("logLevel 'warn': the warning is a JSON log line with its code; 'error': nothing; no logLevel: nothing", () => {
    const warn = run('warn')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: string; code?: string; msg: string });
    expect(warn).toEqual([expect.objectContaining({ level: 'warn', code: 'ORDERTAIL_INPUT_IS_OUTPUT' })]);
    expect(run('error')).toBe('');
    expect(run(undefined)).toBe('');
  });
});
