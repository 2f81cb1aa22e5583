import { resolveCollectorConfig, type CollectorConfig } from '../collector/config.js';
import { ConfigError } from '../config/errors.js';
import { CollectorOnceError, describeFailure } from '../collector/errors.js';
import { loadConfigFile } from '../config/load-file.js';
import { parseDurationMs } from '../config/units.js';
import type { Sink } from '../sinks/sink.js';

/**
 * `ordertail collect`: the exchange collector as its own process.
 *
 *   ordertail collect --exchange binanceusdm --exchange bybit [--symbols BTC/USDT:USDT,ETH/USDT:USDT]
 *                     [--interval 1s] [--sink stdout|file:PATH|none] [--config FILE] [--profile production]
 *
 * This module only parses; the collector (and ccxt, a large import) is loaded
 * when the command runs, so other commands do not pay for it.
 */
export type CollectSink = { kind: 'stdout' } | { kind: 'file'; path: string } | { kind: 'none' };

export interface CollectCommand {
  config: CollectorConfig;
  sink: CollectSink;
  /** One cycle of every exchange, then exit. */
  once: boolean;
  /** Stop by itself after this long (ms); undefined: until SIGINT/SIGTERM. */
  durationMs: number | undefined;
}

function parseSink(value: unknown): CollectSink {
  if (value === undefined || value === 'stdout') return { kind: 'stdout' };
  if (value === 'none') return { kind: 'none' };
  if (typeof value === 'string' && value.startsWith('file:') && value.length > 5) return { kind: 'file', path: value.slice(5) };
  const meant = value === '-' ? 'stdout' : typeof value === 'string' && /[./]/.test(value) && !value.includes(':') ? `file:${value}` : undefined;
  throw new ConfigError(`--sink: expected 'stdout', 'none' or 'file:PATH', got '${String(value)}'${meant === undefined ? '' : `; did you mean '${meant}'?`}`, 'sink');
}

/** Flags merged over the config file's `collector:` section (or the whole file when it has none). */
export function collectCommandFromFlags(flags: Record<string, unknown>): CollectCommand {
  const file = typeof flags.config === 'string' ? loadConfigFile(flags.config) : undefined;
  const fromFile = file && 'collector' in file ? file.collector : file;
  if (fromFile !== undefined && (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile))) {
    throw new ConfigError(`config ${String(flags.config)}: collector: expected a mapping`, 'collector');
  }
  const section: Record<string, unknown> = { ...(fromFile as Record<string, unknown> | undefined) };
  if (Array.isArray(flags.exchange)) section.exchanges = flags.exchange;
  if (flags.symbols !== undefined) section.symbols = flags.symbols;
  if (flags.interval !== undefined) section.interval = flags.interval;
  if (flags.snapshotEvery !== undefined) section.snapshotEvery = flags.snapshotEvery;
  if (flags.concurrency !== undefined) section.concurrency = flags.concurrency;
  if (flags.rateLimit === false) section.rateLimit = false;
  if (typeof flags.baseUrl === 'string' && Array.isArray(section.exchanges)) {
    const baseUrl = flags.baseUrl;
    section.exchanges = section.exchanges.map((e: unknown) => (typeof e === 'string' ? { id: e, baseUrl } : { ...(e as object), baseUrl }));
  }
  if (section.exchanges === undefined && file === undefined) {
    throw new ConfigError('nothing to poll: name the exchanges (ordertail collect --exchange binanceusdm --exchange bybit) or give a --config with a collector: section', 'exchanges');
  }
  const origin = typeof flags.config === 'string' ? `config ${flags.config}` : 'options';
  const profile = typeof flags.profile === 'string' ? flags.profile : undefined;
  const config = resolveCollectorConfig(section, origin, profile);
  let durationMs: number | undefined;
  if (flags.duration !== undefined) {
    durationMs = typeof flags.duration === 'string' ? parseDurationMs(flags.duration) : undefined;
    if (durationMs === undefined || durationMs <= 0) {
      throw new ConfigError(`--duration: expected a duration such as 30s, got '${String(flags.duration)}'`, 'duration');
    }
  }
  return { config, sink: parseSink(flags.sink), once: flags.once === true, durationMs };
}

// The command's definition lives apart (program.ts imports it for every
// command; this module, with the YAML config loader, only `collect` needs).

async function openSink(spec: CollectSink, onBrokenPipe: () => void): Promise<Sink> {
  switch (spec.kind) {
    case 'stdout': {
      const { StreamSink } = await import('../sinks/stdout-sink.js');
      return guardPipe(new StreamSink(process.stdout), onBrokenPipe);
    }
    case 'file': {
      const { FileSink } = await import('../sinks/file-sink.js');
      // An engine may follow this log: its pages stay cached for that reader.
      return new FileSink(spec.path, { pageCache: 'keep' });
    }
    case 'none':
      return { name: 'none', write: () => true, flush: async () => {}, close: async () => {} };
  }
}

const isBrokenPipe = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

/**
 * `ordertail collect | head`: when the reader goes away, stdout fails with
 * EPIPE. That is the consumer's way of saying "enough" (as for `yes | head`):
 * stop quietly. A write waiting for 'drain' that will never come is released.
 */
function guardPipe(sink: Sink, onBrokenPipe: () => void): Sink {
  let broken: Error | undefined;
  let release: (err: Error) => void = () => {};
  const released = new Promise<never>((_, reject) => {
    release = reject;
  });
  released.catch(() => {});
  process.stdout.on('error', (err) => {
    broken ??= err;
    release(err);
    if (isBrokenPipe(err)) onBrokenPipe();
  });
  return {
    name: sink.name,
    write(chunk) {
      if (broken) throw broken;
      const result = sink.write(chunk);
      return result === true ? result : Promise.race([result, released]);
    },
    flush: async () => {
      if (!broken) await Promise.race([sink.flush(), released]).catch(() => {});
    },
    close: async () => {
      if (!broken) await sink.close();
    },
  };
}

/**
 * Run the collector until SIGINT/SIGTERM (or --duration, or one cycle with
 * --once), then stop gracefully: in-flight requests finish or time out, the
 * sink is flushed, and the promise resolves (exit 0). A sink failure rejects
 * (exit 1), except a closed stdout pipe, which is a normal way to stop.
 */
export async function runCollect(cmd: CollectCommand): Promise<void> {
  let failure: Error | undefined;
  let wake = (): void => {};
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  // Signals first: loading ccxt takes a moment, and a SIGTERM then must still end cleanly.
  const onSignal = (): void => wake();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = cmd.durationMs === undefined ? undefined : setTimeout(onSignal, cmd.durationMs);
  try {
    const { Collector } = await import('../collector/collector.js');
    const sink = await openSink(cmd.sink, onSignal);
    const collector = new Collector(cmd.config, { write: (chunk) => sink.write(chunk) });
    collector.on('warning', (m) => process.stderr.write(`ordertail collect: warning: ${m}\n`));
    collector.on('error', (e) => {
      if (!isBrokenPipe(e.cause)) failure = e;
      wake();
    });
    try {
      if (cmd.once) {
        const reports = await collector.pollOnce();
        // A one-shot run that got nothing from an exchange did not do its job: say so, and exit non-zero.
        const empty = reports.filter((r) => r.emitted.ticker + r.emitted.funding + r.suppressed.ticker + r.suppressed.funding === 0 && r.failures.length > 0);
        if (empty.length > 0) {
          failure ??= new CollectorOnceError(empty.map((r) => `${r.exchange} (${r.failures.map(describeFailure).join('; ')})`));
        }
      } else {
        await collector.start();
        await stopped;
      }
    } finally {
      await collector.stop();
      await sink.flush();
      await sink.close();
      if (!collector.drained) {
        // A request that outlived the shutdown deadline still holds a socket
        // (undici's body timeout is minutes). Everything is written and
        // flushed: do not let it keep the process up. Unref'd, so a process
        // that can exit anyway is not held by this timer either.
        setTimeout(() => process.exit(), 1000).unref();
      }
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure) throw failure;
}
