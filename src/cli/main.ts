import { ConfigError } from '../config/errors.js';
import type { ResolvedOptions } from '../config/options.js';
import { ParserUnavailableError, resolveParser } from '../parser/select.js';
import { MetricsListenError, MetricsOptionError } from '../metrics/errors.js';
import { CheckpointLockedError } from '../checkpoint/errors.js';
import type { MetricsServer } from '../metrics/http-server.js';
import { formatStatus, formatSummary } from './status-line.js';
import { StopSignals } from './stop-signals.js';
import { buildProgram, CommanderError, type RunCommand } from './program.js';
import { collectStartupGarbage } from './startup-garbage.js';
import { eagerFeedbackFromHereOn } from './v8-tiering.js';

/*
 * Start-up cost is most of a short run (`run --once` on a small file), so
 * this module imports only what parsing the command line needs; the engine,
 * the logger and the metrics server are loaded when (and only if) used, and
 * the parse worker threads are started before any of them (see prewarm()).
 */

/** Exit codes: 0 done, 1 runtime failure, 2 usage or configuration error, 3 `--once` could not read every input. */
const EXIT_USAGE = 2;
const EXIT_INCOMPLETE = 3;
const SHUTDOWN_DEADLINE_MS = 5000;
/** After the deadline, how long the record being written to stdout may take to get out whole. */
const LAST_WRITE_GRACE_MS = 5000;

/**
 * Start the parse worker threads the engine is about to ask for, so that
 * their start-up (a V8 isolate each, module loading, the parser) runs while
 * this thread loads the engine. The engine's ParsePool takes them over when
 * its configuration is the same; anything unusual (the parser cannot load, …)
 * is left to the engine, which reports it as before.
 */
async function prewarm(options: ResolvedOptions): Promise<(() => Promise<void>) | undefined> {
  let chosen: ReturnType<typeof resolveParser>;
  try {
    chosen = resolveParser(options.parser);
    if (options.parserShadow) resolveParser(options.parserShadow);
  } catch {
    return undefined;
  }
  const { parsePoolConfig } = await import('../pool/pool-config.js');
  const config = parsePoolConfig(options, chosen.name);
  // No thread wanted (a small --once run): Piscina is not even loaded.
  if (config.workers === 0) return undefined;
  const { prewarmParsePool, discardPrewarmedParsePool } = await import('../pool/parse-pool.js');
  prewarmParsePool(config);
  return discardPrewarmedParsePool;
}

async function run(command: RunCommand): Promise<void> {
  // With a config file, SIGHUP reloads it instead of stopping the run.
  const signals = new StopSignals(command.reload !== undefined);
  const discard = await prewarm(command.options);
  try {
    await runEngine(command, signals);
  } finally {
    signals.dispose();
    // Threads the engine did not take over (it failed before starting its pool).
    await discard?.();
  }
}

/** `run … | head -1`: the reader has had enough. Not a failure (as for `yes | head`). */
const isBrokenPipe = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

async function runEngine({ engineOptions, options, statusIntervalMs, metrics, reload }: RunCommand, signals: StopSignals): Promise<void> {
  const [{ createLogger }, { Engine }, { ownProcessGlobals }, { rejectsLogger }] = await Promise.all([
    import('../metrics/logger.js'),
    import('../engine/engine.js'),
    import('../metrics/histograms.js'),
    import('../metrics/rejects-log.js'),
  ]);
  ownProcessGlobals();
  // Logs go to stderr only: stdout may be the record sink.
  const logger = createLogger({ level: options.logLevel });
  const engine = new Engine({ ...engineOptions, logger });
  let failed = false;
  engine.on('info', (m) => logger.info(m));
  engine.on('warning', (m, code) => logger.warn({ code }, m));
  engine.on('rejected', rejectsLogger(logger, () => engine.options.deadLetter !== undefined));
  engine.on('error', (e) => {
    failed = true;
    logger.error({ err: e }, e.message);
  });
  let server: MetricsServer | undefined;
  let stopping: Promise<void> | undefined;
  let stopReloading = (): void => {};
  const shutdown = (): Promise<void> => {
    stopReloading();
    stopping ??= (async () => {
      const deadline = setTimeout(() => {
        const output = engine.abandonOutput();
        const dropped = output ? ` (${output.dropped} bytes of records not yet written to stdout dropped; stdout ends after a whole record)` : '';
        process.stderr.write(`ordertail: shutdown took longer than 5 s; exiting${dropped}\n`);
        if (!output) process.exit(1);
        // A reader that has stopped reading altogether cannot be waited for.
        const stalled = setTimeout(() => {
          process.stderr.write('ordertail: stdout\'s reader took no more within 5 s; the last record on stdout may be cut\n');
          process.exit(1);
        }, LAST_WRITE_GRACE_MS);
        void output.written.then(() => {
          clearTimeout(stalled);
          process.exit(1);
        });
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      await Promise.all([engine.stop(), server?.close()]);
      clearTimeout(deadline);
    })();
    return stopping;
  };
  let readerGone = false;
  const readerLeft = new Promise<void>((resolve) =>
    process.stdout.on('error', (err) => {
      // Other stdout errors reach the engine through its sink's write and fail it.
      if (!isBrokenPipe(err)) return;
      readerGone = true;
      resolve();
    }),
  );
  // Bound before the engine starts: an explicit port that cannot be had fails the run
  // before anything is read or written (a retry then duplicates nothing).
  if (metrics && !signals.received) {
    try {
      const { startMetricsServer } = await import('../metrics/http-server.js');
      server = await startMetricsServer({ source: engine, registry: engine.registry, host: metrics.host, port: metrics.port, allowedHosts: metrics.allowedHosts, logger });
    } catch (err) {
      if (!metrics.optional) throw err;
      logger.warn(`metrics server not started: ${err instanceof Error ? err.message : String(err)} (use --metrics-port to choose another port)`);
    }
  }
  const timer = statusIntervalMs ? setInterval(() => process.stderr.write(formatStatus(engine.stats()) + '\n'), statusIntervalMs) : undefined;
  // A signal during start-up: stop once started (the engine cannot be stopped halfway into start()).
  try {
    await engine.start();
  } catch (err) {
    await server?.close();
    if (timer) clearInterval(timer);
    throw err;
  }
  // What a supervisor (and the follow-latency bench) waits for: from here on,
  // growth of every input is noticed and emitted.
  // A reload may move the metrics server; the one running at stop is the one closed.
  const metricsServer = {
    replace: async (place: RunCommand['metrics']): Promise<void> => {
      await server?.close();
      server = undefined;
      if (!place) return;
      const { startMetricsServer } = await import('../metrics/http-server.js');
      server = await startMetricsServer({ source: engine, registry: engine.registry, host: place.host, port: place.port, allowedHosts: place.allowedHosts, logger });
    },
  };
  if (reload) stopReloading = await startReloading(engine, reload, metrics, metricsServer, signals, logger);
  if (!options.once) {
    collectStartupGarbage();
    eagerFeedbackFromHereOn();
  }
  const files = engine.files().length;
  logger.info({ ready: true, files, sinceSpawnMs: Math.round(performance.now()) }, `ready: ${options.once ? 'reading' : 'following'} ${files} file(s)`);
  // engine.finished() resolves with `once` when all input is out, and rejects in either mode on a
  // fatal error (the 'error' listener above has reported it): the process must not idle after one.
  await Promise.race([engine.finished().catch(() => {}), signals.wait(), readerLeft]);
  await shutdown();
  if (timer) clearInterval(timer);
  if (statusIntervalMs) process.stderr.write(formatStatus(engine.stats()) + '\n');
  {
    // One line that accounts for every record; a warning when copies may have got through.
    const s = engine.stats();
    const summary = { read: s.recordsRead, emitted: s.recordsEmitted, duplicates: s.duplicates, rejected: s.rejectedByReason, withoutKey: s.withoutKey, eventTimeInvalid: s.eventTimeInvalid, paddingBytes: s.paddingBytes, dedupForgotten: s.dedupForgotten, dedupForgottenInWindow: s.dedupForgottenInWindow };
    // A failed run's counts are what reached the engine's outputs, not what the failing one wrote.
    const after = options.checkpoint
      ? 'a restart resumes from the last checkpoint and writes what is missing, once'
      : 'without a checkpoint, a rerun starts over';
    const line = failed
      ? `${formatSummary(s, 'failed')}; 'emitted' counts records handed to the outputs, and the one that failed did not write them all: ${after}`
      : formatSummary(s, options.once ? 'done' : 'stopped');
    if (failed || s.dedupForgottenInWindow > 0) logger.warn({ summary }, line);
    else logger.info({ summary }, line);
  }
  // A follower stops between a line's first bytes and its newline: say what waits, and whether a restart reads it.
  if (!options.once && !failed) {
    for (const file of engine.files()) {
      if (file.lagBytes === 0) continue;
      const later = options.checkpoint ? 'the checkpoint resumes before them, so a restart reads them' : 'without a checkpoint, a later run does not know they were not read';
      logger.info({ file: file.path, unreadBytes: file.lagBytes }, `${file.path}: ${file.lagBytes} byte(s) after its last complete line not read (a line still being written); ${later}`);
    }
  }
  if (readerGone) {
    process.exitCode = 0;
    return;
  }
  const unread = engine.stats().unread;
  if (!failed && unread.length > 0) {
    process.stderr.write(`ordertail: ${unread.length} input(s) not read: ${unread.map((u) => `${u.path} (${u.reason})`).join(', ')}\n`);
    process.exitCode = EXIT_INCOMPLETE;
    return;
  }
  process.exitCode = failed ? 1 : 0;
}

/** SIGHUP and changes of the config file reload it (cli/config-reloader.ts) until the returned function is called. */
async function startReloading(
  engine: import('../engine/engine.js').Engine,
  reload: NonNullable<RunCommand['reload']>,
  metrics: RunCommand['metrics'],
  metricsServer: import('./config-reloader.js').MetricsServerHolder,
  signals: StopSignals,
  logger: import('../metrics/logger.js').Logger,
): Promise<() => void> {
  const [{ ConfigReloader }, { watchConfigFile }, { warmGlobLibraries }] = await Promise.all([import('./config-reloader.js'), import('./config-watch.js'), import('../sources/discovery.js')]);
  const reloader = new ConfigReloader(engine, reload.file, reload.options, metrics, metricsServer, logger);
  const unwatch = watchConfigFile(reload.file, () => reloader.request('config file change'), (m) => logger.warn(m));
  signals.reloadOnHangup(() => reloader.request('SIGHUP'));
  // Now rather than inside the first reload that adds a glob (its pause in emitting).
  if (!engine.options.once) setImmediate(warmGlobLibraries);
  return () => {
    reloader.close();
    unwatch();
  };
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
    if (
      err instanceof ConfigError ||
      err instanceof ParserUnavailableError ||
      err instanceof MetricsOptionError ||
      err instanceof MetricsListenError ||
      err instanceof CheckpointLockedError
    ) {
      process.stderr.write(`ordertail: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`ordertail: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
