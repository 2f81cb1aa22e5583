#!/usr/bin/env node
import('../dist/src/cli/main.js').catch((err) => {
  process.stderr.write(`ordertail: cannot start (${err && err.message ? err.message : err}); was the package built? run: npm run build\n`);
  process.exit(1);
});
