import { ConfigError } from '../config/errors.js';
import { ParserUnavailableError } from '../parser/select.js';
import { MetricsOptionError } from '../metrics/errors.js';
import { startMetricsServer, type MetricsServer } from '../metrics/http-server.js';
import { createLogger } from '../metrics/logger.js';
import { Engine } from '../engine/engine.js';
import { formatStatus } from './status-line.js';
import { buildProgram, CommanderError, type RunCommand } from './program.js';

/** Exit codes: 0 done, 1 runtime failure, 2 usage or configuration error. */
const EXIT_USAGE = 2;
const SHUTDOWN_DEADLINE_MS = 5000;

async function run({ engineOptions, options, statusIntervalMs, metrics }: RunCommand): Promise<void> {
  // Logs go to stderr only: stdout may be the record sink.
  const logger = createLogger({ level: options.logLevel });
  const engine = new Engine({ ...engineOptions, logger });
  let failed = false;
  engine.on('info', (m) => logger.info(m));
  engine.on('warning', (m) => logger.warn(m));
  engine.on('rejected', (r) => logger.debug({ file: r.file, offset: r.offset, reason: r.reason }, 'record rejected'));
  engine.on('error', (e) => {
    failed = true;
    logger.error({ err: e }, e.message);
  });
  let server: MetricsServer | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      const deadline = setTimeout(() => {
        process.stderr.write('ordertail: shutdown took longer than 5 s; exiting\n');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      await Promise.all([engine.stop(), server?.close()]);
      clearTimeout(deadline);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  const timer = statusIntervalMs ? setInterval(() => process.stderr.write(formatStatus(engine.stats()) + '\n'), statusIntervalMs) : undefined;
  await engine.start();
  if (metrics) {
    try {
      server = await startMetricsServer({ source: engine, registry: engine.registry, host: metrics.host, port: metrics.port, logger });
    } catch (err) {
      if (!metrics.optional) {
        await engine.stop();
        throw err;
      }
      logger.warn(`metrics server not started: ${err instanceof Error ? err.message : String(err)} (use --metrics-port to choose another port)`);
    }
  }
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
    if (err instanceof ConfigError || err instanceof ParserUnavailableError || err instanceof MetricsOptionError) {
      process.stderr.write(`ordertail: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`ordertail: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
