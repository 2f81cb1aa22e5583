/**
 * What `npm pack` ships, checked on the real tarball: the product and nothing
 * else, a Rust manifest cargo accepts as shipped (so the addon can build at
 * install), and a package that works through `import` and `require`.
 *
 * The full install (npm install <tgz> into a fresh project, the addon compiled
 * from the tarball, stats().parser === 'native') takes minutes of CPU, so it is
 * a CI step of its own: scripts/check-package.mjs, run by .ci/run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let files: string[] = [];
let unpacked = '';
// Not workdir(): that one is removed after each test, this one serves them all.
const packDir = mkdtempSync(join(tmpdir(), 'ordertail-pack-'));
afterAll(() => rmSync(packDir, { recursive: true, force: true }));

beforeAll(() => {
  const dir = packDir;
  // --ignore-scripts: no prepack/prepare hooks; dist/ is what `npm run build` (pretest) made.
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })) as {
    filename: string;
    files: { path: string }[];
  }[];
  files = packed!.files.map((f) => f.path).sort();
  execFileSync('tar', ['xzf', join(dir, packed!.filename), '-C', dir]);
  unpacked = join(dir, 'package');
}, 60_000);

describe('npm package contents', () => {
  it('ships no tests or benchmarks', () => {
    const unwanted = files.filter(
      (f) =>
        f.startsWith('test/') ||
        f.startsWith('bench/') ||
        f.startsWith('dist/bench/') ||
        f.startsWith('dist/test/') ||
        f.startsWith('native/bench') ||
        f === 'native/src/tests.rs' ||
        (f.startsWith('scripts/') && f !== 'scripts/build-native.mjs'),
    );
    expect(unwanted).toEqual([]);
  });

  it('ships the mock exchange on purpose, as the ordertail/testing entry, and the demo behind `ordertail demo`', () => {
    const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    const testing = pkg.exports['./testing']!;
    for (const target of [testing.import!, testing.types!]) expect(files).toContain(target.replace(/^\.\//, ''));
    expect(files).toContain('dist/src/demo/demo.js');
  });

  it('source maps are shipped with what they point at: each referenced map is in the package and carries its sources', () => {
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    for (const f of files.filter((f) => f.endsWith('.js'))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(unpacked, f), 'utf8'))?.[1];
      if (url) expect(files, `${f} references ${url}`).toContain(join(dirname(f), url));
    }
    for (const f of maps) {
      const map = JSON.parse(readFileSync(join(unpacked, f), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      map.sources.forEach((source, i) => {
        const shipped = files.includes(join(dirname(f), source));
        expect(shipped || typeof map.sourcesContent?.[i] === 'string', `${f}: ${source}`).toBe(true);
      });
    }
  });

  it('ships the license, the docs the README links to, the CommonJS entry and what the install builds from', () => {
    for (const f of ['LICENSE', 'README.md', 'docs/observability.md', 'cjs/index.cjs', 'package.json', 'Cargo.toml', 'Cargo.lock', 'native/Cargo.toml', 'native/build.rs', 'native/src/lib.rs', 'scripts/build-native.mjs', 'bin/ordertail.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/workers/parse-worker.js', 'dist/bundle/cli/main.js', 'dist/bundle/workers/parse-worker.js']) {
      expect(files, f).toContain(f);
    }
    // Every file the README links to (relative links) is in the package.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const [, target] of readme.matchAll(/\]\(((?!https?:|#)[^)#\s]+)(?:#[^)]*)?\)/g)) expect(files, `README links ${target}`).toContain(target);
  });

  it('every module the library entry imports is in the package', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      expect(files, `imported: ${file}`).toContain(file);
      const text = readFileSync(join(unpacked, file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) visit(join(dirname(file), spec!));
    };
    visit('dist/src/index.js');
    visit('dist/workers/parse-worker.js');
  });

  it('cargo accepts the shipped Rust workspace (no target whose file is not shipped)', () => {
    // Crates come from the cache the repository's own addon build filled: for this host's target
    // only (a plain fetch also wants other platforms' crates, which that build never downloaded).
    const host = /^host: (\S+)$/m.exec(spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout ?? '')?.[1];
    expect(host, 'rustc -vV names the host target').toBeDefined();
    const r = spawnSync('cargo', ['fetch', '--offline', '--target', host!, '--manifest-path', join(unpacked, 'Cargo.toml')], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stderr).not.toMatch(/failed to parse manifest|can't find/);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('the unpacked package in a fresh project', () => {
  /** node_modules/ordertail = the unpacked tarball, with the repository's dependencies and built addon. */
  function project(): string {
    const app = workdir('ordertail-app-');
    mkdirSync(join(app, 'node_modules'));
    const pkg = join(app, 'node_modules', 'ordertail');
    cpSync(unpacked, pkg, { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    for (const f of readdirSync(join(root, 'native'))) if (f.endsWith('.node')) cpSync(join(root, 'native', f), join(pkg, 'native', f));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    writeFileSync(join(app, 'in.ndjson'), '{"id":1}\n{"id":2}\n{"id":1}\n');
    return app;
  }

  it("require('ordertail') loads the library and runs an engine", () => {
    const app = project();
    writeFileSync(
      join(app, 'main.cjs'),
      `const { Engine, EngineError } = require('ordertail');
(async () => {
  const engine = new Engine({ input: 'in.ndjson', once: true, workers: 1 });
  const records = engine.records();
  await engine.start();
  const got = [];
  for await (const r of records) got.push(r.toString());
  await engine.stop();
  console.log(JSON.stringify({ got, engineError: typeof EngineError }));
})();`,
    );
    const r = spawnSync(process.execPath, ['main.cjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ got: ['{"id":1}', '{"id":2}'], engineError: 'function' });
  });

  it('where require() of ES modules is unavailable, the error names ESM and what to use instead', () => {
    const app = project();
    writeFileSync(join(app, 'main.cjs'), "try { require('ordertail'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }");
    // Node < 20.19 behaves like this flag.
    const r = spawnSync(process.execPath, ['--no-experimental-require-module', 'main.cjs'], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { code, message } = JSON.parse(r.stdout) as { code: string; message: string };
    expect(code).toBe('ORDERTAIL_ESM_ONLY');
    expect(message).toMatch(/ES module/);
    expect(message).toMatch(/import\(/);
  });

  it('import works too', () => {
    const app = project();
    writeFileSync(join(app, 'main.mjs'), "import { Engine } from 'ordertail';\nconsole.log(typeof Engine);");
    const r = spawnSync(process.execPath, ['main.mjs'], { cwd: app, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('function');
    expect(existsSync(join(app, 'node_modules', 'ordertail', 'LICENSE'))).toBe(true);
  });
});
