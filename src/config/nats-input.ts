/*
 * `--input nats://HOST:PORT[,HOST:PORT…]/SUBJECT?durable=NAME[&stream=NAME]`:
 * a JetStream durable pull consumer as an input. Servers, TLS and credentials
 * as for the NATS sink (config/nats-sink.ts).
 */
import { ConfigError } from './errors.js';
import { optionalDuration, optionalInteger, parseNatsEndpoint, STREAM_NAME_PATTERN, type NatsEndpoint } from './nats-sink.js';

export interface NatsInputConfig extends NatsEndpoint {
  /** The durable consumer's name: its acked position is where a restart resumes. */
  readonly durable: string;
  /** undefined: the stream that takes the subject. */
  readonly stream: string | undefined;
  /** Messages delivered and not yet acked, at most (the consumer's max_ack_pending). */
  readonly maxAckPending: number;
  /** A message delivered and not acked within this is delivered again (one lost in a crash comes back this soon). */
  readonly ackWaitMs: number;
}

const PARAMS = new Set(['durable', 'stream', 'max_ack_pending', 'ack_wait']);

export function isNatsInput(value: string): boolean {
  return value.startsWith('nats://') || value.startsWith('tls://');
}

export function parseNatsInput(value: string, key = 'input', env: NodeJS.ProcessEnv = process.env): NatsInputConfig {
  const { endpoint, params } = parseNatsEndpoint(value, key, PARAMS, env);
  const durable = params.get('durable');
  if (!durable) throw new ConfigError(`${key}: a NATS input needs ?durable=NAME (the consumer whose position survives restarts)`, key);
  if (!STREAM_NAME_PATTERN.test(durable)) throw new ConfigError(`${key}: durable name '${durable}' must be 1-64 letters, digits, '_' or '-'`, key);
  const stream = params.get('stream') ?? undefined;
  if (stream !== undefined && !STREAM_NAME_PATTERN.test(stream)) throw new ConfigError(`${key}: stream name '${stream}' must be 1-64 letters, digits, '_' or '-'`, key);
  const maxAckPending = optionalInteger(params.get('max_ack_pending'), 1, 1_000_000, 'max_ack_pending', key) ?? 20_000;
  const ackWaitMs = optionalDuration(params.get('ack_wait'), 'ack_wait', key) ?? 30_000;
  if (ackWaitMs < 1000) throw new ConfigError(`${key}: ack_wait must be at least 1s`, key);
  return { ...endpoint, durable, stream, maxAckPending, ackWaitMs };
}
