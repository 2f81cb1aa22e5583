import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import { IN_CLI_BUNDLE } from '../util/cli-bundle.js';

/**
 * prom-client, loaded on first call: slow to load (with what it pulls in:
 * measured by hand, figures in bench/RESULTS.md), so a run without a metrics
 * server or a collector never loads it. In the CLI bundle, prom-client is
 * bundled and this `require` is the bundle's own lazy one (esbuild runs a
 * bundled CommonJS module on its first require): the same instance as the
 * bundle's `import`s of it. Elsewhere, Node's loader: the same instance as an
 * `import` of it.
 */
const loadPromClient = (): typeof PromClient =>
  IN_CLI_BUNDLE ? (require('prom-client') as typeof PromClient) : (createRequire(import.meta.url)('prom-client') as typeof PromClient);

/** A new prom-client Registry. */
export function createRegistry(): PromClient.Registry {
  const { Registry } = loadPromClient();
  return new Registry();
}
