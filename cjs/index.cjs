'use strict';
// ordertail is an ES module; this is what `require('ordertail')` resolves to.
// Node >= 20.19 (and >= 22.12) can require() an ES module without top-level
// await, so the library loads as it would with `import`. Older Node versions
// cannot: they get one error that says so and what to use instead, not the
// "No exports main defined" they would get without a `require` condition.
try {
  module.exports = require('../dist/src/index.js');
} catch (err) {
  const code = err && err.code;
  if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
  const esmOnly = new Error(
    `ordertail is an ES module, and Node.js ${process.version} cannot require() it: ` +
      "use `import { Engine } from 'ordertail'`, or `await import('ordertail')` from CommonJS " +
      '(require() of ES modules needs Node.js >= 20.19 or >= 22.12)',
    { cause: err },
  );
  esmOnly.code = 'ORDERTAIL_ESM_ONLY';
  throw esmOnly;
}
