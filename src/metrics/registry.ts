import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

/**
 * A new prom-client Registry. prom-client (slow to load, with what it pulls
 * in: measured by hand, figures in bench/RESULTS.md) is loaded here on first
 * call, so a run without a metrics server or a collector never loads it. Same
 * module instance as an `import` of it.
 */
export function createRegistry(): PromClient.Registry {
  const { Registry } = createRequire(import.meta.url)('prom-client') as typeof PromClient;
  return new Registry();
}
