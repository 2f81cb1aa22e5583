#!/usr/bin/env node
// The bundled CLI (scripts/bundle.mjs, part of `npm run build`): one file per chunk, not ~45 modules to load.
import('../dist/bundle/cli/main.js').catch((err) => {
  process.stderr.write(`ordertail: cannot start (${err && err.message ? err.message : err}); was the package built? run: npm run build\n`);
  process.exit(1);
});
