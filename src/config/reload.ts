/*
 * Config hot reload, the decision half: which settings may change while the
 * engine runs, and what a new set of options changes compared with the one in
 * force. Applying the change is the engine's job (Engine.reload); this module
 * only compares two validated option sets, so a reload is judged by the same
 * schema as start-up (options.ts) and nothing of a refused one is applied.
 */
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import type { OPTION_KEYS, ResolvedOptions } from './options.js';

/** An option name as the config file and `new Engine(options)` spell it. */
export type OptionKey = (typeof OPTION_KEYS)[number];

/** An option a running engine takes over without a restart (Engine.reload). */
export type ReloadableKey = 'input' | 'sink' | 'workers' | 'canaryShare' | 'dedupWindow' | 'ignoreOlder' | 'logLevel' | 'checkpointInterval' | 'mode' | 'batchEvery' | 'batchDelay' | 'shadowSample' | 'liveLane';
export const RELOADABLE_KEYS: readonly ReloadableKey[] = ['input', 'sink', 'workers', 'canaryShare', 'dedupWindow', 'ignoreOlder', 'logLevel', 'checkpointInterval', 'mode', 'batchEvery', 'batchDelay', 'shadowSample', 'liveLane'];

/** What a reload changes, option by option (only the keys whose value differs). */
export interface ReloadPlan {
  /** Reloadable keys whose value differs, in schema order. */
  readonly changed: readonly ReloadableKey[];
  /** Input patterns (absolute) that the new options add and remove. */
  readonly inputsAdded: readonly string[];
  readonly inputsRemoved: readonly string[];
}

const absolute = (patterns: readonly string[]): string[] => [...new Set(patterns.map((p) => resolve(p)))].sort();

/**
 * How each option key reads from resolved options, for comparison. Every key
 * of the schema is listed (the Record type makes a new option a compile error
 * here until someone decides whether it reloads).
 */
const READ: Readonly<Record<OptionKey, (o: ResolvedOptions) => unknown>> = {
  input: (o) => absolute(o.input),
  once: (o) => o.once,
  from: (o) => o.from,
  sink: (o) => o.sink,
  deadLetter: (o) => o.deadLetter && resolve(o.deadLetter),
  workers: (o) => o.workers,
  dedupKey: (o) => o.dedupKey,
  dedupWindow: (o) => o.dedupWindowMs,
  dedupCapacity: (o) => o.dedupCapacity,
  dedupMemory: (o) => o.dedupMemoryBytes,
  eventTime: (o) => o.eventTime,
  maxRecordBytes: (o) => o.maxRecordBytes,
  rangeBytes: (o) => o.rangeBytes,
  parser: (o) => o.parser,
  dedupImpl: (o) => o.dedupImpl,
  sinkPageCache: (o) => o.sinkPageCache,
  sinkMode: (o) => o.sinkMode,
  parserShadow: (o) => o.parserShadow,
  shadowSample: (o) => o.shadowSample,
  canaryParser: (o) => o.canaryParser,
  canaryShare: (o) => o.canaryShare,
  liveLane: (o) => o.liveLane,
  metricsPort: (o) => o.metricsPort,
  metricsHost: (o) => o.metricsHost,
  metricsAllowedHosts: (o) => o.metricsAllowedHosts,
  logLevel: (o) => o.logLevel,
  wsPort: (o) => o.ws?.port,
  wsHost: (o) => o.ws?.host,
  wsTokenFile: (o) => (o.ws?.token && 'file' in o.ws.token ? o.ws.token.file : undefined),
  wsTokenEnv: (o) => (o.ws?.token && 'env' in o.ws.token ? o.ws.token.env : undefined),
  wsAllowedOrigins: (o) => o.ws?.allowedOrigins,
  wsMaxClients: (o) => o.ws?.maxClients,
  wsMaxMessageBytes: (o) => o.ws?.maxMessageBytes,
  wsMessageRate: (o) => o.ws?.messagesPerSecond,
  wsQueueBytes: (o) => o.ws?.queueBytes,
  wsQueueMessages: (o) => o.ws?.queueMessages,
  wsSlowPolicy: (o) => o.ws?.slowPolicy,
  wsReplay: (o) => o.ws?.replayBytes,
  collector: (o) => o.collector,
  collectorLog: (o) => resolve(o.collectorLog),
  checkpoint: (o) => o.checkpoint && resolve(o.checkpoint),
  checkpointInterval: (o) => o.checkpointIntervalMs,
  resetCheckpoint: (o) => o.resetCheckpoint,
  ignoreOlder: (o) => o.ignoreOlderMs,
  maxOpenFiles: (o) => o.maxOpenFiles,
  // realtime ↔ hybrid only (modeChange below).
  mode: (o) => o.mode,
  batchEvery: (o) => o.batchEveryMs,
  batchDelay: (o) => o.batchDelayMs,
  // Judged by the values they give the other keys (a new profile changes logLevel, …).
  profile: () => undefined,
  profiles: () => undefined,
};

/** Resolved options hold plain data only (strings, numbers, arrays, plain objects): JSON tells equal values. */
const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

const isReloadable = (key: OptionKey): key is ReloadableKey => (RELOADABLE_KEYS as readonly string[]).includes(key);

/** A --once run reads what existed at start and ends: there is no "from now on" for new inputs, a new sink or more threads. */
const reloadableIn = (current: ResolvedOptions, key: OptionKey): key is ReloadableKey => isReloadable(key) && !((key === 'input' || key === 'sink' || key === 'workers') && current.once);

/** Sinks a follower can leave or take at a checkpoint boundary: nothing of theirs outlives a flush. */
export const switchesAtReload = (kind: ResolvedOptions['sink']['kind']): boolean => kind === 'file' || kind === 'stdout';

/**
 * Why a change of sink is refused, or undefined when it may apply. Files and
 * stdout switch at the next checkpoint boundary (engine.ts, switchSink). A
 * database or NATS sink commits offsets of its own, and the outputs would
 * have to hand over those too; a restart does that.
 */
function sinkChange(current: ResolvedOptions, next: ResolvedOptions): string | undefined {
  if (switchesAtReload(current.sink.kind) && switchesAtReload(next.sink.kind)) return undefined;
  return `\`sink\` cannot change at run time from ${current.sink.kind} to ${next.sink.kind}: only file and stdout sinks switch at a reload (a database or NATS sink keeps offsets of its own). Restart to apply`;
}

/**
 * Why a change of mode is refused, or undefined when it may apply. realtime
 * and hybrid tail the inputs alike (hybrid only adds the batch path, which is
 * started or stopped); legacy tails nothing. Into legacy, the files being
 * tailed would have to be handed to the batch clock at the offsets the live
 * path reached, ranges in flight and all; out of it, the files the batch clock
 * has not taken would have to be followed from where a batch left them. A
 * restart does both through the checkpoint, file by file; a run does not.
 */
function modeChange(current: ResolvedOptions, next: ResolvedOptions): string | undefined {
  if (current.mode !== 'legacy' && next.mode !== 'legacy') return undefined;
  return `\`mode\` cannot change at run time between ${current.mode} and ${next.mode}: legacy mode tails nothing, and the files being followed (or waiting for the batch clock) would have to change hands at their offsets; a restart does that through the checkpoint. Restart to apply (realtime ↔ hybrid switches at a reload)`;
}

/**
 * Compare the options in force with new ones (both validated by
 * resolveOptions). Throws a ConfigError naming every key that differs but
 * cannot change at run time (`key` is the first of them): such a reload is
 * refused whole, so the engine never runs a mix of two configurations.
 */
export function planReload(current: ResolvedOptions, next: ResolvedOptions): ReloadPlan {
  const changed: ReloadableKey[] = [];
  const refused: string[] = [];
  for (const key of Object.keys(READ) as OptionKey[]) {
    if (same(READ[key](current), READ[key](next))) continue;
    if (reloadableIn(current, key)) changed.push(key);
    else refused.push(key);
  }
  // A key with its own reason: given when it is the only key refused; with others, all are named the usual way.
  for (const [key, why] of [['mode', modeChange], ['sink', sinkChange]] as const) {
    const reason = changed.includes(key) ? why(current, next) : undefined;
    if (!reason) continue;
    if (refused.length === 0) throw new ConfigError(reason, key);
    refused.unshift(key);
  }
  if (refused.length > 0) {
    const names = refused.map((k) => `\`${k}\``).join(', ');
    throw new ConfigError(`${names} cannot change at run time; restart to apply`, refused[0]);
  }
  const before = absolute(current.input);
  const after = absolute(next.input);
  return {
    changed,
    inputsAdded: after.filter((p) => !before.includes(p)),
    inputsRemoved: before.filter((p) => !after.includes(p)),
  };
}
