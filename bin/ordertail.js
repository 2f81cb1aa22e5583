#!/usr/bin/env node
import module from 'node:module';

// Node >= 22.1 keeps compiled bytecode on disk between runs (in the OS temp
// dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off), which shortens start-up
// (figures: bench/RESULTS.md). A no-op on Node 20.
module.enableCompileCache?.();

// `run`: a stop signal while the CLI is still loading is remembered instead of
// killing the process (128 + n); src/cli/stop-signals.ts takes it over and stops
// cleanly once start-up is done.
// Its listeners stay: removing one drops a signal caught but not yet dispatched.
if (process.argv[2] === 'run') {
  const latch = {
    received: undefined,
    forward: undefined,
    handler(signal) {
      // A second signal of the same kind gets the default action.
      process.removeListener(signal, latch.handler);
      latch.received ??= signal;
      latch.forward?.(signal);
    },
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, latch.handler);
  globalThis[Symbol.for('ordertail.earlyStopSignal')] = latch;
}

// The bundled CLI (scripts/bundle.mjs, part of `npm run build`): a few chunks, not ~45 modules to load.
import('../dist/bundle/cli/main.js').catch((err) => {
  process.stderr.write(`ordertail: cannot start (${err && err.message ? err.message : err}); was the package built? run: npm run build\n`);
  process.exit(1);
});
