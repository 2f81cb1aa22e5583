#!/usr/bin/env node
/**
 * What a new user gets from `npm install ordertail`, checked end to end (a CI
 * step, not a vitest file: it compiles the addon from scratch, minutes of CPU):
 *
 *  1. `npm pack`, then `npm install <tgz>` into a fresh ESM project (from
 *     the npm cache the repository's own install filled where it can);
 *  2. the install script built the native parser from the tarball's sources
 *     and left no cargo output inside node_modules;
 *  3. an Engine from the installed package reads a file with the native parser
 *     (`stats().parser === 'native'`), through `import` and through `require`;
 *  4. the package's typings compile in a strict NodeNext project with
 *     exactOptionalPropertyTypes.
 *
 * Prints one line per check; exits non-zero on the first failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'ordertail-package-'));
const app = join(work, 'app');
let failed = false;

function check(ok, what, detail = '') {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) failed = true;
}

function du(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? du(p) : statSync(p).size;
  }
  return total;
}

try {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }));
  const tgz = join(work, packed.filename);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  const env = { ...process.env };
  // The user's environment, not the repository's: cargo picks its own output directory.
  delete env.CARGO_TARGET_DIR;
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', tgz], { cwd: app, env, encoding: 'utf8' });
  const out = `${install.stdout}${install.stderr}`;
  check(install.status === 0, 'npm install <tarball> succeeds', install.status === 0 ? '' : out.slice(-2000));
  check(/ordertail: native parser built/.test(out), 'the install script built the native parser from the tarball', out.match(/ordertail: native parser [^\n]*/)?.[0] ?? 'no line from the install script');
  const warnings = out.split('\n').filter((l) => /npm warn/i.test(l) && !/install-scripts|allowScripts/i.test(l));
  check(warnings.length === 0, 'no npm warnings', warnings.join(' | '));

  const pkg = join(app, 'node_modules', 'ordertail');
  const targetBytes = existsSync(join(pkg, 'target')) ? du(join(pkg, 'target')) : -1;
  check(targetBytes === -1, 'no cargo build output (target/) left in node_modules/ordertail', `target/: ${targetBytes} bytes`);
  check(du(pkg) < 8 << 20, 'node_modules/ordertail is under 8 MiB', `${du(pkg)} bytes`);
  const addons = readdirSync(join(pkg, 'native')).filter((f) => f.endsWith('.node'));
  check(addons.length === 1, 'one addon in node_modules/ordertail/native', addons.join(', '));

  writeFileSync(join(app, 'input.ndjson'), Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: i % 900, timestamp: 1_700_000_000_000 + i }) + '\n').join(''));
  const body = `
    const engine = new Engine({ input: 'input.ndjson', once: true, workers: 1 });
    const records = engine.records();
    await engine.start();
    let n = 0;
    for await (const record of records) n++;
    await engine.stop();
    console.log(JSON.stringify({ n, parser: engine.stats().parser }));`;
  writeFileSync(join(app, 'esm.mjs'), `import { Engine } from 'ordertail';\n${body}`);
  writeFileSync(join(app, 'cjs.cjs'), `const { Engine } = require('ordertail');\n(async () => {${body}})();`);
  for (const script of ['esm.mjs', 'cjs.cjs']) {
    const r = spawnSync(process.execPath, [script], { cwd: app, encoding: 'utf8', env: { ...env, ORDERTAIL_REQUIRE_NATIVE: '1' } });
    let result;
    try {
      result = JSON.parse(r.stdout.trim().split('\n').pop());
    } catch {
      result = undefined;
    }
    check(r.status === 0 && result?.n === 900 && result?.parser === 'native', `${script}: 900 records, stats().parser === 'native'`, `exit ${r.status}: ${r.stdout.trim()} ${r.stderr.slice(-1500)}`);
  }

  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, exactOptionalPropertyTypes: true, noEmit: true, typeRoots: [join(root, 'node_modules', '@types')], types: ['node'] }, files: ['service.ts'] }),
  );
  writeFileSync(
    join(app, 'service.ts'),
    `import { Engine, type EngineOptions, type EngineStats } from 'ordertail';
const options: EngineOptions = { input: 'input.ndjson', once: true, logLevel: undefined, workers: undefined };
const engine = new Engine(options);
const parser: EngineStats['parser'] = engine.stats().parser;
const native: typeof parser = 'native';
void native;
import { MockExchange, type MockOptions } from 'ordertail/testing';
const mockOptions: MockOptions = { latencyMs: 0 };
const mock = await MockExchange.start(mockOptions);
console.log(mock.url);
await mock.close();
`,
  );
  writeFileSync(join(app, 'mock.mjs'), `import { MockExchange } from 'ordertail/testing';\nconst mock = await MockExchange.start();\nconst r = await fetch(mock.url + '/fapi/v1/exchangeInfo');\nconsole.log(r.status);\nawait mock.close();\n`);
  const mockRun = spawnSync(process.execPath, ['mock.mjs'], { cwd: app, encoding: 'utf8' });
  check(mockRun.status === 0 && mockRun.stdout.trim() === '200', "ordertail/testing: the mock exchange starts and answers", `exit ${mockRun.status}: ${mockRun.stdout.trim()} ${mockRun.stderr.slice(-800)}`);
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, encoding: 'utf8' });
  check(tsc.status === 0, 'typings compile in a strict NodeNext project with exactOptionalPropertyTypes', `${tsc.stdout}${tsc.stderr}`.trim().slice(0, 1500));
} catch (err) {
  check(false, 'package check ran', err instanceof Error ? err.message : String(err));
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
