/*
 * The stream the sink publishes into: created when missing with the config
 * the README documents, or checked when it exists. An existing stream is
 * never changed (other services read it); one that cannot give exactly-once
 * is a NatsStreamError naming the setting.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { ConfigError } from '../../config/errors.js';
import type { NatsSinkConfig } from '../../config/nats-sink.js';
import { NatsStreamError } from './errors.js';

/** The duplicate window the sink creates a stream with when the URL names none (and the dedup window is shorter). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
const NS_PER_MS = 1_000_000;

/** The config of a stream the sink creates. */
export function desiredStream(config: NatsSinkConfig, dedupWindowMs: number): Partial<StreamConfig> & { name: string } {
  const s = config.stream;
  return {
    name: s.name,
    subjects: [config.subject],
    storage: s.storage as StreamConfig['storage'],
    num_replicas: s.replicas ?? 1,
    retention: 'limits' as StreamConfig['retention'],
    discard: 'old' as StreamConfig['discard'],
    duplicate_window: (s.duplicateWindowMs ?? Math.max(DEFAULT_DUPLICATE_WINDOW_MS, dedupWindowMs)) * NS_PER_MS,
    max_age: s.maxAgeMs * NS_PER_MS,
  };
}

/** Whether a publish to `subject` is stored by a stream that takes `pattern` (NATS wildcards * and >). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const t = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length || (p[i] !== '*' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/** Why an existing stream does not fit, as [setting, message]; undefined when it does. */
export function incompatibility(info: StreamConfig, config: NatsSinkConfig, dedupWindowMs: number): [string, string] | undefined {
  const s = config.stream;
  const name = `stream ${s.name}`;
  if (!(info.subjects ?? []).some((p) => subjectMatches(p, config.subject))) {
    return ['subjects', `${name} takes subjects [${(info.subjects ?? []).join(', ')}], not ${config.subject}`];
  }
  if (info.no_ack) return ['no_ack', `${name} has no_ack set: publishes are never acknowledged, so offsets could never advance`];
  if (info.sealed) return ['sealed', `${name} is sealed: it takes no more messages`];
  if (info.mirror) return ['mirror', `${name} is a mirror of ${info.mirror.name}: it takes no publishes`];
  if (info.storage !== s.storage) return ['storage', `${name} has ${info.storage} storage, the sink wants ${s.storage} (URL parameter storage=${info.storage} to accept it)`];
  if (s.replicas !== undefined && info.num_replicas !== s.replicas) return ['num_replicas', `${name} has ${info.num_replicas} replica(s), the URL asks for ${s.replicas}`];
  const windowMs = info.duplicate_window / NS_PER_MS;
  const needed = Math.max(dedupWindowMs, s.duplicateWindowMs ?? 0);
  if (windowMs < needed) {
    return ['duplicate_window', `${name} has a duplicate window of ${windowMs} ms, shorter than the ${needed} ms needed (${s.duplicateWindowMs !== undefined ? 'duplicate_window in the URL' : 'the dedup window'}): copies published further apart would both be stored`];
  }
  if (info.discard === 'new' && (info.max_msgs > 0 || info.max_bytes > 0 || info.max_msgs_per_subject > 0)) {
    return ['discard', `${name} discards new messages when full: publishes would fail once it is, and the engine would stall`];
  }
  return undefined;
}

/** Created or checked; resolves to what the sink says of it at start-up. */
export async function ensureStream(nc: NatsConnection, config: NatsSinkConfig, dedupWindowMs: number): Promise<string> {
  const { jetstreamManager, JetStreamApiError } = await import('@nats-io/jetstream');
  if (config.stream.duplicateWindowMs !== undefined && config.stream.duplicateWindowMs < dedupWindowMs) {
    throw new ConfigError(`sink: duplicate_window ${config.stream.duplicateWindowMs} ms is shorter than the dedup window (${dedupWindowMs} ms)`, 'sink');
  }
  let jsm;
  try {
    jsm = await jetstreamManager(nc, { timeout: 10_000 });
  } catch (err) {
    if ((err as Error).name === 'JetStreamNotEnabled' || /not enabled/i.test((err as Error).message)) {
      throw new ConfigError(`${config.display}: JetStream is not enabled on the server (nats-server -js)`, 'sink', { cause: err });
    }
    throw err;
  }
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(config.stream.name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err;
  }
  if (!info) {
    const wanted = desiredStream(config, dedupWindowMs);
    try {
      await jsm.streams.add(wanted);
    } catch (err) {
      // Another engine created it meanwhile: check that one like any existing stream.
      if (err instanceof JetStreamApiError && err.code === 10058) return ensureStream(nc, config, dedupWindowMs);
      if (err instanceof JetStreamApiError && err.code === 10065) {
        throw new NatsStreamError(`${config.display}: another stream already takes subject ${config.subject} (${err.message}); name it with ?stream=NAME`, 'subjects');
      }
      if (err instanceof JetStreamApiError) throw new ConfigError(`${config.display}: cannot create stream ${config.stream.name}: ${err.message}`, 'sink', { cause: err });
      throw err;
    }
    return `stream ${wanted.name} created (subjects ${config.subject}, ${wanted.storage} storage, ${wanted.num_replicas} replica(s), duplicate window ${(wanted.duplicate_window ?? 0) / NS_PER_MS} ms)`;
  }
  const problem = incompatibility(info.config, config, dedupWindowMs);
  if (problem) throw new NatsStreamError(`${config.display}: ${problem[1]} (setting ${problem[0]}; the sink never changes an existing stream)`, problem[0]);
  return `stream ${info.config.name} exists (${info.state.messages} message(s), duplicate window ${info.config.duplicate_window / NS_PER_MS} ms)`;
}
