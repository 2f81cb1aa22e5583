/**
 * Installing never fails because of the addon: the install script
 * (scripts/build-native.mjs, npm's `install` hook) prints exactly one line
 * saying the JS parser will be used and exits 0 when cargo is missing or the
 * build fails. Each case runs a copy of the script in its own package-shaped
 * temp dir, so the repository's built addon and build log are never touched.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';

const script = fileURLToPath(new URL('../scripts/build-native.mjs', import.meta.url));

/** A package root with the install script and a native/ crate manifest; PATH holds node and `bin`. */
function fakePackage(): { root: string; bin: string } {
  const root = workdir('ordertail-install-');
  mkdirSync(join(root, 'scripts'));
  copyFileSync(script, join(root, 'scripts', 'build-native.mjs'));
  mkdirSync(join(root, 'native'));
  writeFileSync(join(root, 'native', 'Cargo.toml'), '[package]\nname = "ordertail-native"\nversion = "0.0.0"\n');
  const bin = join(root, 'bin');
  mkdirSync(bin);
  return { root, bin };
}

function install(root: string, bin: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], {
    cwd: root,
    encoding: 'utf8',
    // Only node and the test's own tools: no real cargo.
    env: { PATH: `${bin}:${dirname(process.execPath)}`, HOME: root },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('install without a working Rust toolchain', () => {
  it('no cargo on PATH: exit 0 and one line saying the JS parser will be used', () => {
    const { root, bin } = fakePackage();
    const r = install(root, bin);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ordertail: native parser not built (cargo not found on PATH); the JS parser will be used\n');
  });

  it('a failing build: exit 0, one line naming the first compiler error and the log, the full output in the log', () => {
    const { root, bin } = fakePackage();
    // A cargo that answers --version and fails every build like rustc does.
    writeFileSync(
      join(bin, 'cargo'),
      `#!/bin/sh
if [ "$1" = "--version" ]; then echo "cargo 1.0.0 (fake)"; exit 0; fi
echo "   Compiling ordertail-native v0.0.0" >&2
echo "error[E0425]: cannot find value \\\`x\\\` in this scope" >&2
echo "error: could not compile \\\`ordertail-native\\\`" >&2
exit 101
`,
    );
    chmodSync(join(bin, 'cargo'), 0o755);
    const r = install(root, bin);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const log = join(root, 'target', 'ordertail-native-build.log');
    expect(lines[0]).toBe(
      `ordertail: native parser not built (build failed: error[E0425]: cannot find value \`x\` in this scope; see ${log}); the JS parser will be used`,
    );
    expect(readFileSync(log, 'utf8')).toContain("error: could not compile `ordertail-native`");
    expect(existsSync(join(root, 'native', 'ordertail.linux-x64-gnu.node'))).toBe(false);
  });

  it('ORDERTAIL_SKIP_NATIVE_BUILD=1 skips the build with the same one line', () => {
    const { root, bin } = fakePackage();
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: `${bin}:${dirname(process.execPath)}`, ORDERTAIL_SKIP_NATIVE_BUILD: '1' },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ordertail: native parser not built (ORDERTAIL_SKIP_NATIVE_BUILD=1); the JS parser will be used\n');
  });
});
