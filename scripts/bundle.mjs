#!/usr/bin/env node
/**
 * Bundles what `npx ordertail` starts, after `tsc` has compiled dist/:
 *
 *   dist/bundle/cli/main.js (+ chunks)   the CLI (bin/ordertail.js imports it)
 *   dist/bundle/workers/parse-worker.js  its parse worker threads
 *
 * Why: start-up is most of a short run, and Node's ES module loader costs
 * about a millisecond per module (resolve, read, compile, link), paid by the
 * main thread for ~45 modules and again by every worker thread for ~25.
 * Both bundles are needed for the gain (figures: bench/RESULTS.md).
 *
 * Dependencies (node_modules) stay external, except the two every CLI run
 * loads, commander and pino, and prom-client, which every run with a metrics
 * server loads (each with its own dependencies): as dozens of CommonJS files
 * read through the ES module loader they cost a one-record run about 25 ms of
 * its start-up, and prom-client 15–20 ms more (figures: bench/RESULTS.md).
 * A bundled CommonJS package runs on its first require, so prom-client still
 * loads only when a registry is made (src/metrics/registry.ts). Piscina
 * resolves its worker file at run time and stays external; pino would too,
 * but only for transports, which ordertail does not use. Dynamic imports become
 * chunks, so a run loads only what it uses, as unbundled. The library
 * entry (dist/src/index.js) is not bundled; it keeps starting
 * dist/workers/parse-worker.js.
 *
 * Both bundles sit two directories below dist/, as the modules they replace
 * do, so `new URL('../../..', import.meta.url)` still finds the package root
 * (the native addon). ORDERTAIL_BUNDLE tells the code it runs from the
 * bundle (src/util/cli-bundle.ts): the pool's worker file, prom-client's require.
 */
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const BUNDLED_PACKAGES = new Set(['commander', 'pino', 'prom-client']);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const externalPackages = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }).filter((name) => !BUNDLED_PACKAGES.has(name));
/**
 * prom-client's process CPU counters require @opentelemetry/api, only to
 * label exemplars with the active trace span; ordertail never enables
 * exemplars, and evaluating the API's bundled modules was a visible part of
 * a metrics server's start-up on the main thread (bench/RESULTS.md,
 * 2026-12-05). The CLI bundle gets what the API answers when no
 * OpenTelemetry SDK is registered, as is the case in the CLI: no active
 * context, no span. (The library keeps prom-client's own require.)
 */
const noOpenTelemetry = {
  name: 'no-opentelemetry-api',
  setup(build) {
    build.onResolve({ filter: /^@opentelemetry\/api$/ }, () => ({ path: '@opentelemetry/api', namespace: 'no-opentelemetry-api' }));
    build.onLoad({ filter: /.*/, namespace: 'no-opentelemetry-api' }, () => ({
      contents: 'module.exports = { trace: { getSpan: () => undefined }, context: { active: () => undefined } };',
      loader: 'js',
    }));
  },
};
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // A package marked external takes its subpaths with it (hdr-histogram-js/dist/…).
  external: externalPackages,
  // Bundled CommonJS calls require() for Node's built-in modules; an ES module has none of its own.
  banner: { js: "import { createRequire as __ordertailCreateRequire } from 'node:module'; const require = __ordertailCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
  // Less source for V8 to scan as each chunk compiles; names stay, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  define: { ORDERTAIL_BUNDLE: 'true' },
};

rmSync(join(dist, 'bundle'), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [join(dist, 'src/cli/main.js')],
  outdir: join(dist, 'bundle/cli'),
  splitting: true,
  plugins: [noOpenTelemetry],
});
await build({
  ...common,
  entryPoints: [join(dist, 'workers/parse-worker.js')],
  outfile: join(dist, 'bundle/workers/parse-worker.js'),
});
// What test/build-before-tests.ts compares the sources with: a build is whole only after the bundle.
writeFileSync(join(dist, '.built-at'), new Date().toISOString() + '\n');
