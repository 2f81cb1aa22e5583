/**
 * Tests run the compiled engine in dist/ (worker threads need real .js files,
 * and what ships is what is tested). So that `npx vitest` alone never tests
 * stale code, the build runs first whenever a source is newer than the last
 * complete build (`npm test` has just built: then this costs one stat walk).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCES = ['src', 'workers', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/bundle.mjs'];

function newestMtime(path: string): number {
  const s = statSync(path, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

export default function setup(): void {
  const built = statSync(join(ROOT, 'dist/.built-at'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = Math.max(...SOURCES.map((p) => newestMtime(join(ROOT, p))));
  if (newest <= built) return;
  console.log('dist/ is older than the sources: building first (npm run build)');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}
