import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { LogLevel } from '../metrics/logger.js';
import { ConfigError } from './errors.js';
import { didYouMean } from './suggest.js';
import { parseByteSize, parseDurationMs } from './units.js';
import { resolveCollectorConfig, type CollectorConfig } from '../collector/config.js';
import { withProfile } from './profiles.js';
import { MAX_CAPACITY, tableBytes } from '../dedup/layout.js';
import type { BroadcastConfig } from './broadcast.js';
import { isPostgresUrl, parsePostgresSink, type PostgresSinkConfig } from './postgres-sink.js';
import { isNatsUrl, parseNatsSink, type NatsSinkConfig } from './nats-sink.js';
import { isNatsInput, parseNatsInput, type NatsInputConfig } from './nats-input.js';
import { GLOB_SYNTAX } from './glob-syntax.js';

/**
 * Options accepted by `new Engine(options)` and by the YAML config file (same
 * names; the file may also spell them kebab-case, as the CLI flags do).
 */
/** The engine's options as declared; use EngineOptions, which also takes explicit undefined. */
export interface EngineOptionFields {
  /**
   * Glob patterns of files to read (files matching later are picked up too), or `nats://HOST:PORT/SUBJECT?durable=NAME` (README, NATS input).
   * Required unless `collector` is given (whose log is then an input): without either, the constructor throws a `ConfigError` naming `input`.
   */
  input?: string | string[];
  /** Read what exists now, then finish. Default false (keep following). */
  once?: boolean;
  /** Where to begin in files that exist at start-up. Default 'start'. */
  from?: 'start' | 'end';
  /**
   * 'stdout' | 'file:PATH' | 'none' | 'postgres://USER@HOST:PORT/DB?table=NAME' (README, PostgreSQL sink) |
   * 'nats://HOST:PORT[,HOST:PORT…]/SUBJECT' (README, NATS JetStream sink).
   * Default 'stdout' (CLI) — the library default is 'none' + events/iterator.
   */
  sink?: 'stdout' | 'none' | `file:${string}` | `postgres://${string}` | `postgresql://${string}` | `nats://${string}` | `tls://${string}`;
  /** Path of the dead-letter file (one JSON line per rejected record). */
  deadLetter?: string;
  /** Worker threads. Default: available cores. */
  workers?: number;
  /** Top-level field(s) forming the dedup key. Default ['id']. */
  dedupKey?: string | string[];
  /** Duplicate window on event time: '60s', '500ms', or milliseconds. Default 60s. */
  dedupWindow?: string | number;
  /**
   * Dedup table size in keys (≈ 18.3 B each; forgetting starts near 60 % full), or 'auto':
   * twice the records the inputs hold at start-up (at least 4 Mi in follow mode),
   * within dedupMemory. Default 'auto'.
   */
  dedupCapacity?: number | 'auto';
  /** Memory cap for an 'auto' dedup table: '1GiB', or bytes. Default 1 GiB. */
  dedupMemory?: string | number;
  /** Field holding the event time (epoch ms or ISO-8601). Default 'timestamp'. */
  eventTime?: string;
  /** Larger records are rejected as too_large: '16MiB' or bytes. Default 16 MiB. */
  maxRecordBytes?: string | number;
  /** Target size of one unit of parallel work on history files. Default 4 MiB. */
  rangeBytes?: string | number;
  /** 'auto' (native when it loads, else js) | 'js' | 'native' | 'simdjson'. Default 'auto'. */
  parser?: 'auto' | 'js' | 'native' | 'simdjson';
  /** Dedup inserts on the main thread: 'auto' (the addon's batch insert when it loads, else js) | 'js' | 'native'. Default 'auto'. */
  dedupImpl?: 'auto' | 'js' | 'native';
  /**
   * File sink: 'drop' output from the page cache once it is on disk (one 32 MiB stretch behind the end; needs the addon),
   * 'keep' it, or (with `once`) write it 'direct' (O_DIRECT, behind the engine; needs the addon).
   * Default 'direct' with `once`, else 'drop'.
   */
  sinkPageCache?: 'drop' | 'keep' | 'direct';
  /**
   * File sink and dead-letter file, when no checkpoint resumes them: 'append' to
   * what is there (two runs over the same input give every record twice) or
   * 'truncate' them first (re-running a `once` job replaces its output). Default 'append'.
   */
  sinkMode?: 'append' | 'truncate';
  /** A second parser re-parsing a sample of ranges; mismatches are counted and logged. */
  parserShadow?: 'js' | 'simdjson';
  /** Share of ranges the shadow parser re-parses, 0..1. Default 0.1. Changes at a reload (with parserShadow set). */
  shadowSample?: number | string;
  /**
   * Follow mode: parse small growth of followed files on the engine's thread
   * (engine/live-lane.ts) instead of on the worker pool. Default true; false
   * sends every range through the pool. Changes at a reload.
   */
  liveLane?: boolean;
  /** Serve /metrics, the JSON endpoints and the status page on this port (0 = any free port). Library default: off. */
  metricsPort?: number | string;
  /** Address the metrics server binds. Default 127.0.0.1. */
  metricsHost?: string;
  /** Names accepted in requests' `Host:` besides localhost, this machine's hostname and metricsHost (DNS-rebinding guard). */
  metricsAllowedHosts?: string | string[];
  /** fatal | error | warn | info | debug | trace | silent. Default info (CLI). */
  logLevel?: LogLevel;
  /** Stream accepted records to WebSocket clients on this port (0 = any free port). Default: off. */
  wsPort?: number | string;
  /** Address the WebSocket endpoint binds. Default 127.0.0.1; any other needs a token. */
  wsHost?: string;
  /** File holding the bearer token clients must present. */
  wsTokenFile?: string;
  /** Environment variable holding the bearer token (used when it is set). Default ORDERTAIL_WS_TOKEN. */
  wsTokenEnv?: string;
  /** Origins browsers may connect from ('*': any). Default: pages served from this machine. */
  wsAllowedOrigins?: string | string[];
  /** Clients connected at once, at most. Default 1000. */
  wsMaxClients?: number | string;
  /** Largest message a client may send: '4KiB', or bytes. Default 4 KiB. */
  wsMaxMessageBytes?: string | number;
  /** Messages a client may send per second (bursts of twice that). Default 10. */
  wsMessageRate?: number | string;
  /** Bytes of records queued for one client, at most: '1MiB', or bytes. Default 1 MiB. */
  wsQueueBytes?: string | number;
  /** Records queued for one client, at most. Default 10000. */
  wsQueueMessages?: number | string;
  /** A client whose queue is full: 'drop-oldest' (and a lagging notice) or 'disconnect' (close code 1013). Default drop-oldest. */
  wsSlowPolicy?: 'drop-oldest' | 'disconnect';
  /** Recent records kept for clients that resume: '16MiB', or bytes (0: none). Default 16 MiB. */
  wsReplay?: string | number;
  /** The exchange collector as a source (see src/collector/config.ts); its records go through dedup and every sink. */
  collector?: Record<string, unknown>;
  /** The collector's own append-only NDJSON log, which the engine follows like any input. Default ./ordertail-collector.ndjson. */
  collectorLog?: string;
  /** Directory for checkpoints (file offsets, output lengths, dedup snapshot). Library default: none (off). */
  checkpoint?: string;
  /** How often a checkpoint is committed: '5s', or milliseconds. Default 5s. One is also written at stop. */
  checkpointInterval?: string | number;
  /** Discard an existing (even a corrupt) checkpoint and start fresh. Default false. */
  resetCheckpoint?: boolean;
  /** Skip files whose last modification is older than this at start-up ('24h'); they are followed from their size if they change. */
  ignoreOlder?: string | number;
  /** Cap on input file descriptors held open at once (files are opened on demand). Default 512. */
  maxOpenFiles?: number | string;
  /**
   * 'realtime' (follow the inputs) | 'legacy' (no tailing: every batchEvery, read each closed
   * file not processed yet once, whole, as an hourly batch job does) | 'hybrid' (both, through
   * the one dedup table; the engine's comparison() says which path saw each record first).
   * Default 'realtime'.
   */
  mode?: 'realtime' | 'legacy' | 'hybrid';
  /** legacy and hybrid: how often closed files are looked for: '1h', or milliseconds. Default 1h. */
  batchEvery?: string | number;
  /** legacy and hybrid: a file not modified for this long is closed: '5m', or milliseconds. Default 5m. */
  batchDelay?: string | number;
  /**
   * Defaults for a kind of deployment (config/profiles.ts): 'production' (the
   * defaults documented here) or 'development' (logLevel debug, checkpoints
   * every 1s, shadowSample 1). Keys given explicitly win; the collector takes
   * the same profile unless its section names its own. Default 'production'.
   */
  profile?: 'development' | 'production';
  /** Per-profile overrides: `{ development: { logLevel: 'info' } }`, applied under explicit keys. */
  profiles?: Partial<Record<'development' | 'production', Record<string, unknown>>>;
  /**
   * A parser given a share of the input files for a staged rollout (canaryShare):
   * every range of those files is parsed by it instead of `parser`. Fixed at
   * start-up (the worker threads load it). Default none.
   */
  canaryParser?: 'js' | 'native' | 'simdjson';
  /** Share of input files, 0..1, parsed by canaryParser, chosen by a hash of each file's identity (changes at a reload). Default 0. */
  canaryShare?: number;
  /** Library only: a pino logger for per-file/per-range debug logs (default: silent). */
  logger?: import('../metrics/logger.js').Logger;
  /** Library only: aborting it stops the engine (a records() loop then throws an AbortError). */
  signal?: AbortSignal;
}

/**
 * Engine options. Every optional one also takes an explicit `undefined`
 * (meaning its default), so they compose under `exactOptionalPropertyTypes`.
 */
export type EngineOptions = {
  [K in keyof EngineOptionFields]: {} extends Pick<EngineOptionFields, K> ? EngineOptionFields[K] | undefined : EngineOptionFields[K];
};

/** Options after validation and defaults: every field concrete. */
export interface ResolvedOptions {
  /** Files and globs (NATS inputs are in natsInputs). */
  input: string[];
  /** `nats://…?durable=NAME` inputs: JetStream durable consumers, spooled into the checkpoint directory. */
  natsInputs: NatsInputConfig[];
  once: boolean;
  from: 'start' | 'end';
  sink: SinkSpec;
  deadLetter: string | undefined;
  workers: number;
  dedupKey: string[];
  dedupWindowMs: number;
  dedupCapacity: number | 'auto';
  dedupMemoryBytes: number;
  eventTime: string;
  maxRecordBytes: number;
  rangeBytes: number;
  parser: 'auto' | 'js' | 'native' | 'simdjson';
  dedupImpl: 'auto' | 'js' | 'native';
  sinkPageCache: 'drop' | 'keep' | 'direct';
  sinkMode: 'append' | 'truncate';
  parserShadow: 'js' | 'simdjson' | undefined;
  shadowSample: number;
  liveLane: boolean;
  metricsPort: number | undefined;
  metricsHost: string;
  metricsAllowedHosts: string[];
  logLevel: LogLevel;
  /** The WebSocket broadcaster, when wsPort is set. */
  ws: BroadcastConfig | undefined;
  collector: CollectorConfig | undefined;
  collectorLog: string;
  checkpoint: string | undefined;
  checkpointIntervalMs: number;
  resetCheckpoint: boolean;
  ignoreOlderMs: number | undefined;
  maxOpenFiles: number;
  mode: 'realtime' | 'legacy' | 'hybrid';
  profile: 'development' | 'production';
  canaryParser: 'js' | 'native' | 'simdjson' | undefined;
  canaryShare: number;
  batchEveryMs: number;
  batchDelayMs: number;
  signal: AbortSignal | undefined;
}

export type SinkSpec = { kind: 'stdout' } | { kind: 'file'; path: string } | { kind: 'none' } | { kind: 'postgres'; config: PostgresSinkConfig } | { kind: 'nats'; config: NatsSinkConfig };

type Raw = Record<string, unknown>;
type FieldParser = (value: unknown, key: string) => unknown;

const describe = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value));

const fail = (key: string, expected: string, value: unknown, meant?: string): never => {
  throw new ConfigError(`${key}: expected ${expected}, got ${describe(value)}${meant === undefined ? '' : `; did you mean '${meant}'?`}`, key);
};

const stringList: FieldParser = (value, key) => {
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    return fail(key, 'a non-empty string or list of non-empty strings', value);
  }
  return list as string[];
};

const positiveInteger =
  (max: number): FieldParser =>
  (value, key) => {
    const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
      return fail(key, `an integer from 1 to ${max}`, value);
    }
    return n;
  };

const duration: FieldParser = (value, key) => {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDurationMs(value) : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return fail(key, 'a duration such as 60s, 500ms, 5m, 1h30m', value);
  return ms;
};

const positiveDuration: FieldParser = (value, key) => {
  const ms = duration(value, key) as number;
  return ms > 0 ? ms : fail(key, 'a duration above zero such as 5s', value);
};

const boundedInteger =
  (min: number, max: number): FieldParser =>
  (value, key) => {
    const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) return fail(key, `an integer from ${min} to ${max}`, value);
    return n;
  };

const byteSize =
  (min: number, max: number): FieldParser =>
  (value, key) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' ? parseByteSize(value) : undefined;
    if (n === undefined || !Number.isInteger(n) || n < min || n > max) {
      return fail(key, `a size from ${min} to ${max} bytes, such as 16MiB`, value);
    }
    return n;
  };

const boolean: FieldParser = (value, key) => (typeof value === 'boolean' ? value : fail(key, 'true or false', value));

const nonEmptyString: FieldParser = (value, key) =>
  typeof value === 'string' && value.length > 0 ? value : fail(key, 'a non-empty string', value);

const oneOf =
  (...choices: string[]): FieldParser =>
  (value, key) =>
    typeof value === 'string' && choices.includes(value) ? value : fail(key, choices.join(' | '), value);

const sink: FieldParser = (value, key): SinkSpec => {
  if (value === 'stdout') return { kind: 'stdout' };
  if (value === 'none') return { kind: 'none' };
  if (typeof value === 'string' && value.startsWith('file:') && value.length > 5) {
    return { kind: 'file', path: value.slice(5) };
  }
  if (typeof value === 'string' && isPostgresUrl(value)) return { kind: 'postgres', config: parsePostgresSink(value, key) };
  if (typeof value === 'string' && isNatsUrl(value)) return { kind: 'nats', config: parseNatsSink(value, key) };
  // `--sink out.ndjson` and `--sink -` are what other tools take (a bare word such as `kafka` is no path).
  const meant = value === '-' ? 'stdout' : typeof value === 'string' && /[./]/.test(value) && !value.includes(':') ? `file:${value}` : undefined;
  return fail(key, "'stdout', 'none', 'file:PATH', 'postgres://USER@HOST:PORT/DB?table=NAME' or 'nats://HOST:PORT/SUBJECT'", value, meant);
};

const fraction: FieldParser = (value, key) => {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !(n >= 0 && n <= 1)) return fail(key, 'a number from 0 to 1', value);
  return n;
};

const port: FieldParser = (value, key) => {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65_535) return fail(key, 'a port from 0 to 65535', value);
  return n;
};

const MAX_RECORD_LIMIT = 1024 * 1024 * 1024;

/** The schema: every accepted key, its parser, and its default. */
const SCHEMA: Readonly<Record<Exclude<keyof EngineOptions, 'logger' | 'signal'>, { parse: FieldParser; fallback: (given: Readonly<Raw>) => unknown }>> = {
  input: { parse: stringList, fallback: () => undefined },
  once: { parse: boolean, fallback: () => false },
  from: { parse: oneOf('start', 'end'), fallback: () => 'start' },
  sink: { parse: sink, fallback: () => ({ kind: 'none' }) },
  deadLetter: { parse: nonEmptyString, fallback: () => undefined },
  workers: { parse: positiveInteger(256), fallback: () => availableParallelism() },
  dedupKey: { parse: stringList, fallback: () => ['id'] },
  dedupWindow: { parse: duration, fallback: () => 60_000 },
  dedupCapacity: { parse: (value, key) => (value === 'auto' ? 'auto' : positiveInteger(MAX_CAPACITY)(value, key)), fallback: () => 'auto' },
  dedupMemory: { parse: byteSize(1 << 20, tableBytes(MAX_CAPACITY)), fallback: () => 1 << 30 },
  eventTime: { parse: nonEmptyString, fallback: () => 'timestamp' },
  maxRecordBytes: { parse: byteSize(2, MAX_RECORD_LIMIT), fallback: () => 16 * 1024 * 1024 },
  rangeBytes: { parse: byteSize(4096, MAX_RECORD_LIMIT), fallback: () => 4 * 1024 * 1024 },
  parser: { parse: oneOf('auto', 'js', 'native', 'simdjson'), fallback: () => 'auto' },
  dedupImpl: { parse: oneOf('auto', 'js', 'native'), fallback: () => 'auto' },
  // A replay's output is written once and read later: past the page cache unless told otherwise.
  sinkPageCache: { parse: oneOf('drop', 'keep', 'direct'), fallback: (given) => (given.once === true ? 'direct' : 'drop') },
  sinkMode: { parse: oneOf('append', 'truncate'), fallback: () => 'append' },
  parserShadow: { parse: oneOf('js', 'simdjson'), fallback: () => undefined },
  shadowSample: { parse: fraction, fallback: () => 0.1 },
  canaryParser: { parse: oneOf('js', 'native', 'simdjson'), fallback: () => undefined },
  canaryShare: { parse: fraction, fallback: () => 0 },
  liveLane: { parse: boolean, fallback: () => true },
  metricsPort: { parse: port, fallback: () => undefined },
  metricsAllowedHosts: { parse: stringList, fallback: () => [] },
  metricsHost: { parse: nonEmptyString, fallback: () => '127.0.0.1' },
  logLevel: { parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), fallback: () => 'info' },
  wsPort: { parse: port, fallback: () => undefined },
  wsHost: { parse: nonEmptyString, fallback: () => '127.0.0.1' },
  wsTokenFile: { parse: nonEmptyString, fallback: () => undefined },
  wsTokenEnv: { parse: nonEmptyString, fallback: () => undefined },
  wsAllowedOrigins: { parse: stringList, fallback: () => undefined },
  wsMaxClients: { parse: positiveInteger(1 << 20), fallback: () => 1000 },
  wsMaxMessageBytes: { parse: byteSize(64, 1 << 20), fallback: () => 4096 },
  wsMessageRate: { parse: positiveInteger(10_000), fallback: () => 10 },
  wsQueueBytes: { parse: byteSize(1024, 1 << 30), fallback: () => 1 << 20 },
  wsQueueMessages: { parse: positiveInteger(1 << 24), fallback: () => 10_000 },
  wsSlowPolicy: { parse: oneOf('drop-oldest', 'disconnect'), fallback: () => 'drop-oldest' },
  wsReplay: { parse: byteSize(0, 1 << 30), fallback: () => 16 << 20 },
  collector: { parse: (value) => resolveCollectorConfig(value), fallback: () => undefined },
  collectorLog: { parse: nonEmptyString, fallback: () => 'ordertail-collector.ndjson' },
  checkpoint: { parse: nonEmptyString, fallback: () => undefined },
  checkpointInterval: { parse: positiveDuration, fallback: () => 5000 },
  resetCheckpoint: { parse: boolean, fallback: () => false },
  ignoreOlder: { parse: positiveDuration, fallback: () => undefined },
  maxOpenFiles: { parse: boundedInteger(8, 1 << 20), fallback: () => 512 },
  mode: { parse: oneOf('realtime', 'legacy', 'hybrid'), fallback: () => 'realtime' },
  // Applied before the other keys are read (withProfile); here to be known keys.
  profile: { parse: oneOf('development', 'production'), fallback: () => 'production' },
  profiles: { parse: () => undefined, fallback: () => undefined },
  batchEvery: { parse: positiveDuration, fallback: () => 3_600_000 },
  batchDelay: { parse: duration, fallback: () => 300_000 },
};

export const OPTION_KEYS = Object.keys(SCHEMA) as (keyof typeof SCHEMA)[];

const kebabToCamel = (key: string): string => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Two outputs named as one file (the sink, the dead letters, the collector's
 * log) would interleave in it, and a restart's cut-back of one would cut the
 * other: refused, naming both. So is an input path that names one of them.
 */
function sameFileTwice(values: Raw, origin: string): void {
  const sink = values.sink as SinkSpec;
  const files: [string, string | undefined][] = [
    ['sink', sink.kind === 'file' ? sink.path : undefined],
    ['deadLetter', values.deadLetter as string | undefined],
    ['collectorLog', values.collector !== undefined ? (values.collectorLog as string) : undefined],
  ];
  const seen = new Map<string, string>();
  for (const [key, path] of files) {
    if (path === undefined) continue;
    const other = seen.get(resolvePath(path));
    if (other !== undefined) throw new ConfigError(`${origin}: ${key}: ${path} is also the ${other} file; give each output a file of its own`, key);
    seen.set(resolvePath(path), key);
  }
  // A glob may match an output (that file is skipped, with a warning); a path named as an input cannot mean it.
  for (const input of values.input as string[]) {
    if (isNatsInput(input) || GLOB_SYNTAX.test(input)) continue;
    const output = seen.get(resolvePath(input));
    if (output === 'sink' || output === 'deadLetter') {
      throw new ConfigError(`${origin}: input: ${input} is also the ${output} file; an engine does not read its own output (give the ${output} a file of its own)`, 'input');
    }
  }
}

/**
 * Validate raw options (from the library caller, a YAML file, or CLI flags merged
 * over a file). Unknown keys and bad values throw ConfigError naming the key.
 */
export function resolveOptions(raw: unknown, origin = 'options'): ResolvedOptions {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${origin}: expected a mapping of option names to values`);
  }
  const values: Raw = {};
  const profiled = withProfile(raw as Raw, origin, (key) => kebabToCamel(key) in SCHEMA);
  for (const [rawKey, value] of Object.entries(profiled)) {
    const key = kebabToCamel(rawKey);
    // Objects, not configuration: taken as they are.
    if (key === 'logger' || key === 'signal') continue;
    const field = SCHEMA[key as keyof typeof SCHEMA];
    if (!field) {
      throw new ConfigError(`${origin}: unknown key '${rawKey}'${didYouMean(rawKey, OPTION_KEYS)} (known: ${OPTION_KEYS.join(', ')})`, rawKey);
    }
    if (value === undefined) continue;
    try {
      values[key] = field.parse(value, rawKey);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`${origin}: ${err.message}`, rawKey);
      throw err;
    }
  }
  for (const key of OPTION_KEYS) if (!(key in values)) values[key] = SCHEMA[key].fallback(values);
  // The collector's log is an input like any other; with a collector, files are optional.
  if (values.collector !== undefined) values.input = [...((values.input as string[] | undefined) ?? []), values.collectorLog as string];
  if (values.input === undefined) throw new ConfigError(`${origin}: 'input' is required (one or more globs)`, 'input');
  if (values.sinkPageCache === 'direct' && values.once !== true) {
    throw new ConfigError(`${origin}: sinkPageCache: 'direct' is for replays (once): a live record would wait in the file's last partial block until the next checkpoint; use 'drop'`, 'sinkPageCache');
  }
  // A comparison of two paths needs time for the batch path to come round: there is no "once" of it.
  if (values.mode === 'hybrid' && values.once === true) throw new ConfigError(`${origin}: mode: 'hybrid' compares the paths over time; with once, use 'realtime' or 'legacy'`, 'mode');
  sameFileTwice(values, origin);
  const maxRecordBytes = values.maxRecordBytes as number;
  return {
    input: (values.input as string[]).filter((i) => !isNatsInput(i)),
    natsInputs: (values.input as string[]).filter(isNatsInput).map((i) => parseNatsInput(i, 'input')),
    once: values.once as boolean,
    from: values.from as 'start' | 'end',
    sink: values.sink as SinkSpec,
    deadLetter: values.deadLetter as string | undefined,
    workers: values.workers as number,
    dedupKey: values.dedupKey as string[],
    dedupWindowMs: values.dedupWindow as number,
    dedupCapacity: values.dedupCapacity as number | 'auto',
    dedupMemoryBytes: values.dedupMemory as number,
    eventTime: values.eventTime as string,
    maxRecordBytes,
    rangeBytes: values.rangeBytes as number,
    parser: values.parser as ResolvedOptions['parser'],
    dedupImpl: values.dedupImpl as ResolvedOptions['dedupImpl'],
    sinkPageCache: values.sinkPageCache as ResolvedOptions['sinkPageCache'],
    sinkMode: values.sinkMode as ResolvedOptions['sinkMode'],
    parserShadow: values.parserShadow as ResolvedOptions['parserShadow'],
    shadowSample: values.shadowSample as number,
    liveLane: values.liveLane as boolean,
    metricsPort: values.metricsPort as number | undefined,
    metricsHost: values.metricsHost as string,
    metricsAllowedHosts: values.metricsAllowedHosts as string[],
    logLevel: values.logLevel as ResolvedOptions['logLevel'],
    ws: broadcastConfig(values),
    collector: values.collector as CollectorConfig | undefined,
    collectorLog: values.collectorLog as string,
    checkpoint: values.checkpoint as string | undefined,
    checkpointIntervalMs: values.checkpointInterval as number,
    resetCheckpoint: values.resetCheckpoint as boolean,
    ignoreOlderMs: values.ignoreOlder as number | undefined,
    maxOpenFiles: values.maxOpenFiles as number,
    mode: values.mode as ResolvedOptions['mode'],
    profile: values.profile as ResolvedOptions['profile'],
    canaryParser: values.canaryParser as ResolvedOptions['canaryParser'],
    canaryShare: values.canaryShare as number,
    batchEveryMs: values.batchEvery as number,
    batchDelayMs: values.batchDelay as number,
    signal: abortSignal((raw as Raw).signal, origin),
  };
}

/** The broadcaster's settings, when it is on. */
function broadcastConfig(values: Raw): BroadcastConfig | undefined {
  if (values.wsPort === undefined) return undefined;
  const file = values.wsTokenFile as string | undefined;
  const env = values.wsTokenEnv as string | undefined;
  if (file !== undefined && env !== undefined) throw new ConfigError('wsTokenFile and wsTokenEnv: give one of them', 'wsTokenEnv');
  return {
    port: values.wsPort as number,
    host: values.wsHost as string,
    token: file !== undefined ? { file } : env !== undefined ? { env } : undefined,
    allowedOrigins: values.wsAllowedOrigins as string[] | undefined,
    maxClients: values.wsMaxClients as number,
    maxMessageBytes: values.wsMaxMessageBytes as number,
    messagesPerSecond: values.wsMessageRate as number,
    queueBytes: values.wsQueueBytes as number,
    queueMessages: values.wsQueueMessages as number,
    slowPolicy: values.wsSlowPolicy as BroadcastConfig['slowPolicy'],
    replayBytes: values.wsReplay as number,
  };
}

function abortSignal(value: unknown, origin: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw new ConfigError(`${origin}: signal: expected an AbortSignal, got ${describe(value)}`, 'signal');
  return value;
}
