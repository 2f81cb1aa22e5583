#!/usr/bin/env node
import module from 'node:module';

// Node >= 22.1 keeps compiled bytecode on disk between runs (in the OS temp
// dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off): `run --once` over 1 MB
// measured 0.303 → 0.281 s median on Node 24. A no-op on Node 20.
module.enableCompileCache?.();

// The bundled CLI (scripts/bundle.mjs, part of `npm run build`): a few chunks, not ~45 modules to load.
import('../dist/bundle/cli/main.js').catch((err) => {
  process.stderr.write(`ordertail: cannot start (${err && err.message ? err.message : err}); was the package built? run: npm run build\n`);
  process.exit(1);
});
