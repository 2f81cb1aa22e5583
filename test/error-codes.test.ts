/**
 * One error base and one list of codes: every code the engine can raise or warn
 * with is listed in the README, and no other code scheme is left in the sources.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EngineError, ERROR_CODES, OrdertailError, WARNING_CODES } from '../dist/src/index.js';

const ROOT = new URL('..', import.meta.url).pathname;
const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });

describe('error and warning codes', () => {
  it('every error and warning code is in the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const code of [...ERROR_CODES, ...WARNING_CODES]) expect(readme, code).toContain(`\`${code}\``);
  });

  it('every code literal in the sources is a listed one, with the one prefix', () => {
    const listed = new Set<string>([...ERROR_CODES, ...WARNING_CODES, 'ORDERTAIL_HTTP_NOT_FOUND', 'ORDERTAIL_HTTP_HOST_NOT_ALLOWED', 'ORDERTAIL_HTTP_METHOD_NOT_ALLOWED', 'ORDERTAIL_HTTP_BAD_QUERY', 'ORDERTAIL_METRICS_INTERNAL']);
    const unlisted: string[] = [];
    for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'workers'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/'((?:ORDERTAIL|ERR)_[A-Z0-9_]+)'/g)) if (!listed.has(m[1]!)) unlisted.push(`${file}: ${m[1]}`);
    }
    expect(unlisted).toEqual([]);
  });

  it('errors share one base', () => {
    expect(new ConfigError('x')).toBeInstanceOf(OrdertailError);
    expect(new EngineError('ORDERTAIL_SINK', 'x')).toBeInstanceOf(OrdertailError);
  });
});
