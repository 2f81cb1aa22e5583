/**
 * A service consuming engine.records() with checkpoints, for the kill -9 test
 * (test/records-crash.test.ts): appends every record it takes to a log before
 * asking for the next one (what a consumer that has handled a record would
 * have persisted), a little slowly so a kill lands with records queued.
 *
 *   node records-consumer.mjs INPUT CHECKPOINT_DIR TAKEN_LOG
 *
 * Prints "done" when the loop ended by itself (the input is all delivered).
 */
import { openSync, writeSync } from 'node:fs';
import { Engine } from '../../dist/src/index.js';

const [input, checkpoint, takenLog] = process.argv.slice(2);
const fd = openSync(takenLog, 'a');
const engine = new Engine({ input, checkpoint, checkpointInterval: 10, workers: 1, once: true });
const records = engine.records();
await engine.start();
let n = 0;
const loop = (async () => {
  for await (const record of records) {
    writeSync(fd, `${record.toString()}\n`);
    if (++n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
})();
// With records(), finished() means the loop has taken the last record.
await engine.finished();
await engine.stop();
await loop;
process.stdout.write('done\n');
