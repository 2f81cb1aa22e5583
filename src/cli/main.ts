import { ConfigError } from '../config/errors.js';
import { ParserUnavailableError } from '../parser/select.js';
import { Engine } from '../engine/engine.js';
import { formatStatus } from './status-line.js';
import { buildProgram, CommanderError, type RunCommand } from './program.js';

/** Exit codes: 0 done, 1 runtime failure, 2 usage or configuration error. */
const EXIT_USAGE = 2;
const SHUTDOWN_DEADLINE_MS = 5000;

async function run({ engineOptions, options, statusIntervalMs }: RunCommand): Promise<void> {
  const engine = new Engine(engineOptions);
  let failed = false;
  engine.on('info', (m) => process.stderr.write(`ordertail: ${m}\n`));
  engine.on('warning', (m) => process.stderr.write(`ordertail: warning: ${m}\n`));
  engine.on('error', (e) => {
    failed = true;
    process.stderr.write(`ordertail: error: ${e.message}\n`);
  });
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      const deadline = setTimeout(() => {
        process.stderr.write('ordertail: shutdown took longer than 5 s; exiting\n');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      await engine.stop();
      clearTimeout(deadline);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  const timer = statusIntervalMs ? setInterval(() => process.stderr.write(formatStatus(engine.stats()) + '\n'), statusIntervalMs) : undefined;
  await engine.start();
  if (options.once) {
    await Promise.race([engine.finished(), new Promise<void>((resolve) => process.once('SIGTERM', resolve))]);
    await shutdown();
  } else {
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      engine.once('finished', done);
    });
    await shutdown();
  }
  if (timer) clearInterval(timer);
  if (statusIntervalMs) process.stderr.write(formatStatus(engine.stats()) + '\n');
  process.exitCode = failed ? 1 : 0;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram(run);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; commander already printed them.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (err instanceof ConfigError || err instanceof ParserUnavailableError) {
      process.stderr.write(`ordertail: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`ordertail: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
