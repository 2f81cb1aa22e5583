import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileDiscovery } from '../dist/src/sources/discovery.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { globSync } = require('tinyglobby') as typeof import('tinyglobby');
const picomatch = require('picomatch') as typeof import('picomatch');

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ordertail-glob-'));
  for (const name of ['a.ndjson', 'b.ndjson', '.hidden.ndjson', 'sp ace é.ndjson', 'x[1].ndjson', 'c.json', 'c.log', 'ab.ndjson']) {
    writeFileSync(join(dir, name), '{"id":"1"}\n');
  }
  mkdirSync(join(dir, 'sub'));
  mkdirSync(join(dir, 'd.ndjson'));
  writeFileSync(join(dir, 'sub', 'e.ndjson'), '{"id":"2"}\n');
  symlinkSync(join(dir, 'a.ndjson'), join(dir, 'link.ndjson'));
  symlinkSync(join(dir, 'sub'), join(dir, 'dirlink.ndjson'));
  symlinkSync(join(dir, 'nowhere'), join(dir, 'broken.ndjson'));
  spawnSync('mkfifo', [join(dir, 'fifo.ndjson')]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an input glob finds the files tinyglobby finds', () => {
  const tinyglobby = (patterns: string[]): string[] => [...new Set(globSync(patterns, { absolute: true, onlyFiles: true, dot: true }))].sort();
  // Wildcards in the last segment only: listed as one directory, which finds
  // what tinyglobby finds that the pattern matches (tinyglobby also lists the
  // files of a directory symlink whose name matches: see below).
  const listed = ['*.ndjson', '*', '?.ndjson', '[ab].ndjson', '{a,c}.*', '*.{json,log}', 'a*', 'nonexistent/*.ndjson', 'a.ndjson/*'];
  for (const pattern of listed) {
    it(pattern, () => {
      const full = `${dir}/${pattern}`;
      const matches = picomatch(full, { dot: true });
      expect(new FileDiscovery([full]).scan()).toEqual(tinyglobby([full]).filter((p) => matches(p)));
    });
  }
  // Left to tinyglobby: exactly its result.
  for (const pattern of ['x\\[1\\].ndjson', '*/e.ndjson', '**/*.ndjson', 's{ub,x}/*.ndjson', '!(a).ndjson']) {
    it(pattern, () => {
      const full = `${dir}/${pattern}`;
      expect(new FileDiscovery([full]).scan()).toEqual(tinyglobby([full]));
    });
  }

  it('a pattern written with // or /./ or .. or a trailing / finds the same files', () => {
    const base = dir.slice(1);
    const matches = picomatch(`${dir}/*.ndjson`, { dot: true });
    const expected = tinyglobby([`${dir}/*.ndjson`]).filter((p) => matches(p));
    for (const written of [`//${base}/*.ndjson`, `/${base}/./*.ndjson`, `/${base}/sub/../*.ndjson`, `/${base}/*.ndjson/`]) {
      expect({ written, found: new FileDiscovery([written]).scan() }).toEqual({ written, found: expected });
    }
  });

  it('a file created later is announced under a pattern written with //', async () => {
    const discovery = new FileDiscovery([`/${dir}//*.later`]);
    expect(discovery.scan()).toEqual([]);
    const announced = new Promise<string>((resolve) => discovery.follow(resolve));
    writeFileSync(join(dir, 'new.later'), '{"id":"3"}\n');
    try {
      expect(await announced).toBe(join(dir, 'new.later'));
    } finally {
      discovery.close();
    }
  });

  it('a symbolic link to a directory whose name matches is not read into', () => {
    const found = new FileDiscovery([`${dir}/*.ndjson`]).scan();
    expect(tinyglobby([`${dir}/*.ndjson`])).toContain(`${dir}/dirlink.ndjson/e.ndjson`);
    expect(found).not.toContain(`${dir}/dirlink.ndjson/e.ndjson`);
    expect(found).toEqual(['.hidden.ndjson', 'a.ndjson', 'ab.ndjson', 'b.ndjson', 'link.ndjson', 'sp ace é.ndjson', 'x[1].ndjson'].map((n) => `${dir}/${n}`));
  });

  it('a file named with glob characters, given as it is named, is read; one created later is announced', async () => {
    const named = join(dir, 'named');
    mkdirSync(named);
    const files = ['report (1).ndjson', 'orders[12].ndjson', 'a{b}.ndjson', 'orders1.ndjson'].map((n) => join(named, n));
    for (const file of files) writeFileSync(file, '{"id":"4"}\n');
    // Before: each was a glob matching other names, or none ("matches no file"), and was not read.
    expect(new FileDiscovery([files[0]!]).scan()).toEqual([files[0]]);
    expect(new FileDiscovery([files[2]!]).scan()).toEqual([files[2]]);
    // Still a glob too: [12] matches orders1.ndjson as well.
    expect(new FileDiscovery([files[1]!]).scan()).toEqual([files[1]!, files[3]!].sort());
    const later = join(named, 'later (2).ndjson');
    const discovery = new FileDiscovery([later]);
    expect(discovery.scan()).toEqual([]);
    const announced = new Promise<string>((resolve) => discovery.follow(resolve));
    writeFileSync(later, '{"id":"5"}\n');
    try {
      expect(await announced).toBe(later);
    } finally {
      discovery.close();
    }
  });

  it('several patterns at once, one path listed once', () => {
    const full = [`${dir}/[ab].ndjson`, `${dir}/**/e.ndjson`, `${dir}/a.ndjson`, `${dir}/?.ndjson`];
    expect(new FileDiscovery(full).scan()).toEqual(tinyglobby(full));
  });

  it('a directory glob is listed without loading tinyglobby', () => {
    const script = `
      import { createRequire } from 'node:module';
      import { FileDiscovery } from './dist/src/sources/discovery.js';
      const found = new FileDiscovery([${JSON.stringify(`${dir}/*.ndjson`)}]).scan();
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/tinyglobby/'));
      console.log(JSON.stringify({ found: found.length, tinyglobbyLoaded: loaded }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ found: 7, tinyglobbyLoaded: false });
  });
});
