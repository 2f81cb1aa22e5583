import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, fileLogger, parseLogLevel, rangeLogger } from '../dist/src/metrics/logger.js';

/** A destination that keeps what pino writes. */
function capture(isTTY = false): { lines: string[]; write(s: string): void; isTTY: boolean } {
  const lines: string[] = [];
  return { lines, isTTY, write: (s: string) => void lines.push(s) };
}

describe('logger', () => {
  it('writes one JSON object per line with level names, ISO time and pid', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out });
    log.debug('hidden below the level');
    log.warn({ lag: 12 }, 'falling behind');
    expect(out.lines).toHaveLength(1);
    const entry = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'warn', msg: 'falling behind', lag: 12, pid: process.pid });
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('carries file and range correlation ids on every line, so one record’s trip can be followed', () => {
    const out = capture();
    const log = createLogger({ level: 'debug', destination: out });
    const f3 = fileLogger(log, 'f3', '/logs/orders.ndjson');
    const f4 = fileLogger(log, 'f4', '/logs/other.ndjson');
    f3.info('opened');
    rangeLogger(f3, 17, 4096, 8192).debug({ records: 12 }, 'parsed');
    rangeLogger(f4, 17, 0, 100).debug('parsed');
    rangeLogger(f3, 17, 4096, 8192).info({ emitted: 11, duplicates: 1 }, 'emitted');
    const entries = out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({ file: 'f3', path: '/logs/orders.ndjson', msg: 'opened' });
    const trip = entries.filter((e) => e.range === 'f3.r17');
    expect(trip.map((e) => e.msg)).toEqual(['parsed', 'emitted']);
    for (const e of trip) expect(e).toMatchObject({ file: 'f3', path: '/logs/orders.ndjson', start: 4096, end: 8192 });
    expect(entries.filter((e) => e.file === 'f4').map((e) => e.range)).toEqual(['f4.r17']);
  });

  it('prints human lines when the destination is a TTY, with an error’s stack and code', () => {
    const tty = capture(true);
    const log = createLogger({ destination: tty, colors: false });
    fileLogger(log, 'f1', '/logs/a b.ndjson').error({ err: Object.assign(new Error('disk full'), { code: 'ENOSPC' }) }, 'sink write failed');
    const text = tty.lines.join('');
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR sink write failed {2}file=f1 path="\/logs\/a b\.ndjson"\n/);
    expect(text).toContain('    Error: disk full [ENOSPC]\n');
    expect(text).toMatch(/\n {4}\s*at /);
    // Not a TTY: JSON, whatever the content.
    const pipe = capture(false);
    createLogger({ destination: pipe }).info('hello');
    expect(JSON.parse(pipe.lines[0]!)).toMatchObject({ msg: 'hello' });
  });

  it('goes to stderr by default and never to stdout (stdout may be the record sink)', () => {
    const logger = fileURLToPath(new URL('../dist/src/metrics/logger.js', import.meta.url));
    const script = `import { createLogger } from ${JSON.stringify(logger)}; const l = createLogger({ level: 'trace' }); l.info('to stderr'); l.trace('trace too');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'to stderr'],
      ['trace', 'trace too'],
    ]);
  });

  it('accepts --log-level values case-insensitively and rejects others with a stable code', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel('silent')).toBe('silent');
    expect(() => parseLogLevel('verbose')).toThrow(expect.objectContaining({ code: 'ORDERTAIL_METRICS_OPTION', option: 'level' }));
    expect(() => createLogger({ level: 'loud' })).toThrow(/--log-level: expected one of fatal, error, warn, info, debug, trace, silent/);
  });
});
