#!/usr/bin/env node
/**
 * Builds the Rust parser addon (native/) at install time.
 *
 * - ORDERTAIL_SKIP_NATIVE_BUILD=1 skips it.
 * - Without cargo on PATH, or when the build fails, prints ONE line
 *   "ordertail: native parser not built (<reason>); the JS parser will be used"
 *   and exits 0: installing ordertail never fails because of the addon.
 * - Runs `cargo build --release -p ordertail-native` and copies the library to
 *   native/ordertail.<napi-rs triple>.node, where src/parser/native.ts looks.
 * - Where cargo builds: $CARGO_TARGET_DIR when set (kept: a shared cache);
 *   else, installed as a dependency (the package sits in node_modules), a
 *   temporary directory removed afterwards, because a release build leaves
 *   ~100 MB of intermediate files that no one uses once the library is
 *   copied out; else (a checkout of the repository) target/, which makes the
 *   next build incremental.
 * - The full build log goes to target/ordertail-native-build.log (installed as
 *   a dependency: native/build.log).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const installedAsDependency = root.split(sep).includes('node_modules');
// Installed as a dependency, no target/ is left behind: the log goes next to the addon.
const logPath = installedAsDependency ? join(nativeDir, 'build.log') : join(root, 'target', 'ordertail-native-build.log');

function notBuilt(reason) {
  const oneLine = String(reason).replace(/\s+/g, ' ').trim().slice(0, 300);
  console.log(`ordertail: native parser not built (${oneLine}); the JS parser will be used`);
  process.exit(0);
}

function saveLog(text) {
  try {
    mkdirSync(dirname(logPath), { recursive: true });
    writeFileSync(logPath, text);
  } catch {
    // the log is a convenience; never fail the install over it
  }
}

/** The most telling line of a failed build's output. */
function lastError(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /^error(\[E\d+\])?:/.test(l)) ?? lines.reverse().find((l) => /error|failed/i.test(l));
  return err ?? lines[0] ?? 'unknown error';
}

/** napi-rs' platform triple for this process (file name suffix). */
function platformTriple() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    let glibc = true;
    try {
      glibc = Boolean(process.report?.getReport()?.header?.glibcVersionRuntime);
    } catch {
      glibc = !existsSync('/etc/alpine-release');
    }
    return `${platform}-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    shell: process.platform === 'win32',
    ...opts,
  });
}

if (process.env.ORDERTAIL_SKIP_NATIVE_BUILD === '1') notBuilt('ORDERTAIL_SKIP_NATIVE_BUILD=1');
if (!existsSync(join(nativeDir, 'Cargo.toml'))) notBuilt('native/ sources are not part of this installation');

const probe = run('cargo', ['--version']);
if (probe.error || probe.status !== 0) notBuilt('cargo not found on PATH');

function removeOwnTargetDir() {
  if (ownTargetDir) rmSync(targetDir, { recursive: true, force: true });
}

const ownTargetDir = !process.env.CARGO_TARGET_DIR && installedAsDependency;
const targetDir = process.env.CARGO_TARGET_DIR || (ownTargetDir ? mkdtempSync(join(tmpdir(), 'ordertail-cargo-')) : join(root, 'target'));
const result = run('cargo', ['build', '--release', '-p', 'ordertail-native', '--manifest-path', join(root, 'Cargo.toml')], {
  env: { ...process.env, CARGO_TARGET_DIR: targetDir },
});
const log = `$ CARGO_TARGET_DIR=${targetDir} cargo build --release -p ordertail-native\n${result.stdout ?? ''}${result.stderr ?? ''}`;
if (!result.error && result.status === 0) {
  const lib =
    process.platform === 'win32' ? 'ordertail_native.dll' : process.platform === 'darwin' ? 'libordertail_native.dylib' : 'libordertail_native.so';
  try {
    copyFileSync(join(targetDir, 'release', lib), join(nativeDir, `ordertail.${platformTriple()}.node`));
  } catch (e) {
    saveLog(log);
    removeOwnTargetDir();
    notBuilt(`cannot copy the built library: ${e.message}`);
  }
}
removeOwnTargetDir();

saveLog(log);
if (result.error) notBuilt(result.error.message);
if (result.status !== 0) notBuilt(`build failed: ${lastError(log)}; see ${logPath}`);

const built = join(nativeDir, `ordertail.${platformTriple()}.node`);
if (!existsSync(built)) notBuilt(`build finished but ${built} is missing`);
console.log(`ordertail: native parser built (${built})`);
