import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { resolveOptions, type EngineOptions, type ResolvedOptions } from '../config/options.js';
import { parseDurationMs } from '../config/units.js';
import { ConfigError } from '../config/errors.js';
import { registerCollectCommand } from './collect-register.js';

export interface RunCommand {
  /** The merged file + flag options, as the Engine takes them. */
  engineOptions: EngineOptions;
  /** The same, validated (usage errors are raised before anything starts). */
  options: ResolvedOptions;
  statusIntervalMs: number | undefined;
  /** Where to serve metrics; `optional`: the default port, so failing to bind it is only a warning. */
  metrics: { port: number; host: string; allowedHosts: string[]; optional: boolean } | undefined;
  /** With `--config`: the file, and the options of the run as that file says now (read again at each call). */
  reload: { file: string; options: () => Pick<RunCommand, 'engineOptions' | 'options' | 'metrics'> } | undefined;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Flag name → option key (flags override the config file key by key). */
const FLAG_KEYS: Readonly<Record<string, string>> = {
  input: 'input',
  once: 'once',
  from: 'from',
  sink: 'sink',
  deadLetter: 'deadLetter',
  workers: 'workers',
  dedupKey: 'dedupKey',
  dedupWindow: 'dedupWindow',
  dedupCapacity: 'dedupCapacity',
  dedupMemory: 'dedupMemory',
  eventTime: 'eventTime',
  maxRecordBytes: 'maxRecordBytes',
  rangeBytes: 'rangeBytes',
  parser: 'parser',
  dedupImpl: 'dedupImpl',
  sinkPageCache: 'sinkPageCache',
  sinkMode: 'sinkMode',
  parserShadow: 'parserShadow',
  shadowSample: 'shadowSample',
  canaryParser: 'canaryParser',
  canaryShare: 'canaryShare',
  metricsPort: 'metricsPort',
  metricsHost: 'metricsHost',
  metricsAllowedHosts: 'metricsAllowedHosts',
  logLevel: 'logLevel',
  wsPort: 'wsPort',
  wsHost: 'wsHost',
  wsTokenFile: 'wsTokenFile',
  wsTokenEnv: 'wsTokenEnv',
  wsAllowedOrigins: 'wsAllowedOrigins',
  wsMaxClients: 'wsMaxClients',
  wsMaxMessageBytes: 'wsMaxMessageBytes',
  wsMessageRate: 'wsMessageRate',
  wsQueueBytes: 'wsQueueBytes',
  wsQueueMessages: 'wsQueueMessages',
  wsSlowPolicy: 'wsSlowPolicy',
  wsReplay: 'wsReplay',
  checkpoint: 'checkpoint',
  checkpointInterval: 'checkpointInterval',
  resetCheckpoint: 'resetCheckpoint',
  ignoreOlder: 'ignoreOlder',
  maxOpenFiles: 'maxOpenFiles',
  mode: 'mode',
  profile: 'profile',
  batchEvery: 'batchEvery',
  batchDelay: 'batchDelay',
};

/**
 * Where the CLI keeps checkpoints in follow mode when --checkpoint is not
 * given: $ORDERTAIL_STATE_DIR, else $XDG_STATE_HOME/ordertail, else
 * ~/.local/state/ordertail; one subdirectory per (inputs, sink), so two
 * engines with different inputs never share one.
 */
export function defaultCheckpointDir(options: ResolvedOptions): string {
  const root = process.env.ORDERTAIL_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'ordertail');
  const sink = options.sink.kind === 'file' ? `file:${resolve(options.sink.path)}` : options.sink.kind === 'postgres' || options.sink.kind === 'nats' ? options.sink.config.display : options.sink.kind;
  const key = createHash('sha256')
    // NATS inputs are part of the key only when there are some: other engines' directories stay where they were.
    .update(JSON.stringify([options.input.map((g) => resolve(g)).sort(), sink, ...(options.natsInputs.length > 0 ? [options.natsInputs.map((n) => n.display).sort()] : [])]))
    .digest('hex')
    .slice(0, 16);
  return join(root, key);
}

/** The package's version (package.json sits three levels above dist/src/cli/ and dist/bundle/cli/). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/**
 * The config file's keys with the flags merged over them, validated: the
 * engine's options and the metrics server the CLI runs itself. Start-up and
 * every reload (a fixed `checkpoint` then) go through here.
 */
function mergeRunOptions(flags: Record<string, unknown>, fromFile: Record<string, unknown>, checkpoint?: string): Pick<RunCommand, 'engineOptions' | 'options' | 'metrics'> {
  const merged: Record<string, unknown> = { sink: 'stdout', ...fromFile };
  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    if (flags[flag] !== undefined) merged[key] = flags[flag];
  }
  // The CLI serves metrics unless told not to. An explicit port that cannot
  // be bound is an error; the default one only a warning (several engines
  // may share a host).
  const explicitPort = merged.metricsPort ?? merged['metrics-port'];
  const defaultMetricsPort = flags.metrics !== false && explicitPort === undefined;
  if (flags.metrics === false) {
    delete merged.metricsPort;
    delete merged['metrics-port'];
  } else if (explicitPort === undefined) {
    merged.metricsPort = 9464;
  }
  if (flags.checkpoint === false) delete merged.checkpoint;
  // Commander defaults a --no-* flag to true: only its presence overrides the file.
  if (flags.liveLane === false) merged.liveLane = false;
  if (checkpoint !== undefined && merged.checkpoint === undefined) merged.checkpoint = checkpoint;
  const origin = typeof flags.config === 'string' ? `config ${flags.config}` : 'options';
  let options = resolveOptions(merged, origin);
  if (options.checkpoint === undefined && flags.checkpoint !== false && !options.once) {
    merged.checkpoint = defaultCheckpointDir(options);
    options = resolveOptions(merged, origin);
  }
  // The CLI runs the metrics server itself (so a busy default port can be a
  // warning); the engine gets everything else.
  const metrics = options.metricsPort === undefined ? undefined : { port: options.metricsPort, host: options.metricsHost, allowedHosts: options.metricsAllowedHosts, optional: defaultMetricsPort };
  for (const key of ['metricsPort', 'metrics-port', 'metricsHost', 'metrics-host', 'metricsAllowedHosts', 'metrics-allowed-hosts']) delete merged[key];
  return { engineOptions: merged as unknown as EngineOptions, options, metrics };
}

/**
 * Parse argv into a validated run command. Only parses: the caller runs the
 * engine and owns process.exit. Usage errors throw ConfigError/CommanderError.
 */
export function buildProgram(onRun: (cmd: RunCommand) => Promise<void>): Command {
  const program = new Command('ordertail')
    .description('Tail append-only JSON order logs into a deduplicated, low-latency stream.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    // One line: commander puts its "(Did you mean …?)" on a second one.
    .configureOutput({ outputError: (text, write) => write(text.trim().split('\n').join(' ') + '\n') });

  program
    .command('run')
    .description('read input files (and follow them unless --once) and emit each record once')
    .exitOverride()
    .argument('[files...]', 'files or globs to read, as --input gives them (quote a glob to have files created later picked up)')
    .option('-c, --config <file>', 'YAML config file; flags override its keys')
    .option('-i, --input <glob>', 'files to read (repeatable); files matching later are picked up; or nats://HOST:PORT/SUBJECT?durable=NAME (a JetStream durable consumer)', collect)
    .option('--once', 'read everything that exists now, then exit 0 (3 if an input could not be read)')
    .addOption(new Option('--from <where>', 'where to begin in files present at start-up (default start)').choices(['start', 'end']))
    .option('--sink <sink>', "'stdout' (default), 'file:PATH', 'none', 'postgres://USER@HOST:PORT/DB?table=NAME' (password from PGPASSWORD or a pgpass file) or 'nats://HOST:PORT[,HOST:PORT]/SUBJECT[?stream=NAME]' (JetStream; credentials from ORDERTAIL_NATS_CREDS, ORDERTAIL_NATS_TOKEN or ORDERTAIL_NATS_USER/PASSWORD)")
    .option('--dead-letter <path>', 'write rejected input here, one JSON line each {file,offset,reason,sample}')
    .option('-w, --workers <n>', 'parse worker threads (default: cores)')
    .option('--dedup-key <fields>', 'comma-separated top-level field(s) forming the key (default id)')
    .option('--dedup-window <duration>', 'duplicate window on event time, e.g. 60s, 500ms, 5m (default 60s)')
    .option('--dedup-capacity <keys>', 'dedup table size in keys (~18.3 bytes each; forgetting starts near 60 % full) or auto: twice the records of the inputs at start-up, at least 4194304 in follow mode (default auto)')
    .option('--dedup-memory <size>', 'memory cap of an auto-sized dedup table, e.g. 512MiB (default 1GiB)')
    .option('--event-time <field>', 'event time field: epoch ms or ISO-8601 (default timestamp; missing → arrival time)')
    .option('--max-record-bytes <size>', 'reject larger records as too_large, e.g. 16MiB (default 16MiB)')
    .option('--range-bytes <size>', 'unit of parallel work on history files (default 4MiB)')
    .addOption(new Option('--parser <parser>', 'auto (native when built, else js) | js | native | simdjson (default auto)').choices(['auto', 'js', 'native', 'simdjson']))
    .addOption(new Option('--dedup-impl <impl>', 'dedup inserts on the main thread: auto (the addon\'s batch insert when built, else js) | js | native (default auto)').choices(['auto', 'js', 'native']))
    .addOption(new Option('--sink-page-cache <mode>', 'file sink: drop written output from the page cache once it is on disk, keeping the newest 32 MiB, keep it, or (with --once) write it direct, bypassing the page cache (default: direct with --once, else drop)').choices(['drop', 'keep', 'direct']))
    .addOption(new Option('--sink-mode <mode>', 'file sink and dead-letter file without a checkpoint to resume: append to them, or truncate them first so a re-run replaces its output (default append)').choices(['append', 'truncate']))
    .addOption(new Option('--parser-shadow <parser>', 're-parse a sample of ranges with this parser and count mismatches').choices(['js', 'simdjson']))
    .option('--shadow-sample <fraction>', 'share of ranges the shadow parser re-parses, 0..1 (default 0.1; changes at a reload)')
    .addOption(new Option('--canary-parser <parser>', 'a parser given a share of the input files (--canary-share) for a staged rollout: their ranges are parsed by it instead of --parser (default none)').choices(['js', 'native', 'simdjson']))
    .option('--canary-share <fraction>', 'share of input files, 0..1, parsed by --canary-parser, chosen by a hash of each file\'s identity (default 0; changes at a reload)')
    .option('--no-live-lane', "follow mode: parse growth of followed files on the worker pool, not on the engine's thread (config key liveLane: false; changes at a reload)")
    .option('--metrics-port <port>', 'serve /metrics, JSON metrics, /healthz, /readyz and a status page at / (default 9464; 0 = any free port)')
    .option('--metrics-host <host>', 'address for the metrics server (default 127.0.0.1)')
    .option('--metrics-allowed-hosts <names>', "comma-separated names accepted in requests' Host: header besides localhost, this machine's hostname and --metrics-host (guards against DNS rebinding)")
    .option('--no-metrics', 'do not start the metrics server')
    .option('--ws-port <port>', 'stream accepted records to WebSocket clients on this port (0 = any free port; default off)')
    .option('--ws-host <host>', 'address of the WebSocket endpoint (default 127.0.0.1; any other requires a token)')
    .option('--ws-token-file <file>', 'file holding the bearer token WebSocket clients must present')
    .option('--ws-token-env <name>', 'environment variable holding that token (default ORDERTAIL_WS_TOKEN, used when set)')
    .option('--ws-allowed-origins <origins>', "comma-separated origins browsers may connect from, '*' for any (default: pages served from this machine)")
    .option('--ws-max-clients <n>', 'WebSocket clients connected at once, at most (default 1000)')
    .option('--ws-max-message-bytes <size>', 'largest message a client may send; larger ones close it with 1009 (default 4KiB)')
    .option('--ws-message-rate <n>', 'messages a client may send per second, bursts of twice that (default 10)')
    .option('--ws-queue-bytes <size>', 'bytes of records queued for one client, at most (default 1MiB)')
    .option('--ws-queue-messages <n>', 'records queued for one client, at most (default 10000)')
    .addOption(new Option('--ws-slow-policy <policy>', 'a client whose queue is full: drop-oldest (with a lagging notice) or disconnect (close code 1013) (default drop-oldest)').choices(['drop-oldest', 'disconnect']))
    .option('--ws-replay <size>', 'recent records kept for clients that resume with their last sequence number (default 16MiB; 0 = none)')
    .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent (default info); logs are JSON on stderr, pretty on a TTY')
    .option('--checkpoint <dir>', 'checkpoint directory: offsets, output lengths, dedup snapshot (default in follow mode: ~/.local/state/ordertail/<hash of inputs and sink>)')
    .option('--no-checkpoint', 'do not checkpoint (a restart then reads everything again)')
    .option('--checkpoint-interval <duration>', 'commit a checkpoint this often (default 5s; one is also written at exit)')
    .option('--reset-checkpoint', 'discard the existing (or a corrupt) checkpoint and start fresh')
    .option('--ignore-older <duration>', 'skip files not modified for this long at start-up (followed from their size if they change), e.g. 24h')
    .option('--max-open-files <n>', 'cap on input file descriptors held open (default 512)')
    .addOption(new Option('--mode <mode>', 'realtime: follow the inputs (default); legacy: no tailing, read closed files once each, every --batch-every; hybrid: both, compared at /metrics/comparison').choices(['realtime', 'legacy', 'hybrid']))
    .addOption(new Option('--profile <name>', 'defaults for a kind of deployment: production (the defaults given here) or development (log level debug, checkpoints every 1s, shadow sample 1); explicit flags and keys win, and the collector takes the same profile (default production)').choices(['development', 'production']))
    .option('--batch-every <duration>', 'legacy and hybrid modes: look for closed files this often, e.g. 1h (default 1h)')
    .option('--batch-delay <duration>', 'legacy and hybrid modes: a file not modified for this long is closed, e.g. 5m (default 5m)')
    .option('--status <duration>', 'print a status line to stderr at this interval, e.g. 1s')
    .action(async (files: string[], flags: Record<string, unknown>) => {
      // `ordertail run --once a.ndjson b.ndjson` reads what `tail` or `jq` would.
      if (files.length > 0) flags.input = [...((flags.input as string[] | undefined) ?? []), ...files];
      if (flags.input === undefined && flags.config === undefined) {
        throw new ConfigError("nothing to read: name the files (ordertail run --once a.ndjson b.ndjson) or a glob (--input 'logs/*.ndjson', followed as files appear)", 'input');
      }
      // The YAML loader is loaded only when there is a file to read.
      const configFile = typeof flags.config === 'string' ? flags.config : undefined;
      const loadFile = configFile === undefined ? undefined : (await import('../config/load-file.js')).loadConfigFile;
      const first = mergeRunOptions(flags, loadFile ? loadFile(configFile!) : {});
      let statusIntervalMs: number | undefined;
      if (typeof flags.status === 'string') {
        statusIntervalMs = parseDurationMs(flags.status);
        if (statusIntervalMs === undefined || statusIntervalMs <= 0) {
          throw new ConfigError(`--status: expected a duration such as 1s, got '${flags.status}'`, 'status');
        }
      }
      // A reload reads the file again and merges the same flags over it. The checkpoint
      // directory chosen by default (a hash of inputs and sink) stays the one in use:
      // changing the inputs must not move it.
      const reload =
        configFile === undefined
          ? undefined
          : { file: configFile, options: () => mergeRunOptions(flags, loadFile!(configFile), first.options.checkpoint) };
      await onRun({ ...first, statusIntervalMs, reload });
    });
  registerCollectCommand(program);
  program
    .command('demo')
    .description('a self-contained demo: history plus a live file with duplicates and corrupt lines, followed and checked (no setup)')
    .exitOverride()
    .option('--duration <duration>', 'how long the live writer runs (default 10s)')
    .action(async (flags: { duration?: string }) => {
      const runMs = flags.duration === undefined ? 10_000 : parseDurationMs(flags.duration);
      if (runMs === undefined || runMs <= 0) throw new ConfigError(`--duration: expected a duration such as 10s, got '${flags.duration}'`, 'duration');
      const { runDemo } = await import('../demo/demo.js');
      process.exitCode = await runDemo(runMs);
    });
  return program;
}

export { CommanderError };
