/*
 * `--input nats://HOST:PORT[,HOST:PORT…]/SUBJECT?durable=NAME[&stream=NAME]`:
 * a JetStream durable pull consumer as an input. Servers, TLS and credentials
 * as for the NATS sink (config/nats-sink.ts).
 */
import { ConfigError } from './errors.js';
import { optionalInteger, parseNatsEndpoint, STREAM_NAME_PATTERN, type NatsEndpoint } from './nats-sink.js';

export interface NatsInputConfig extends NatsEndpoint {
  /** The durable consumer's name: its acked position is where a restart resumes. */
  readonly durable: string;
  /** undefined: the stream that takes the subject. */
  readonly stream: string | undefined;
  /** Messages delivered and not yet acked, at most (the consumer's max_ack_pending). */
  readonly maxAckPending: number;
}

const PARAMS = new Set(['durable', 'stream', 'max_ack_pending']);

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
  return { ...endpoint, durable, stream, maxAckPending };
}
