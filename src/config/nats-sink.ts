/*
 * `--sink nats://HOST:PORT[,HOST:PORT…]/SUBJECT?stream=NAME&…`: what the NATS
 * JetStream sink takes from its URL. Secrets never come from here: a command
 * line is readable by every user of the machine (ps, /proc), so a token, a
 * user's password or a credentials file's contents come from the environment
 * (ORDERTAIL_NATS_TOKEN, ORDERTAIL_NATS_USER + ORDERTAIL_NATS_PASSWORD,
 * ORDERTAIL_NATS_CREDS naming a .creds file). File paths (TLS CA, client
 * certificate) are not secrets and may be URL parameters.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { parseDurationMs } from './units.js';

export type NatsStorage = 'file' | 'memory';

export interface NatsStreamSettings {
  /** The JetStream stream the subject belongs to (created when missing). */
  readonly name: string;
  readonly storage: NatsStorage;
  /** undefined: 1 when the sink creates the stream; an existing stream keeps its own. */
  readonly replicas: number | undefined;
  /** undefined: max(2 min, the dedup window) at creation; at least the dedup window always. */
  readonly duplicateWindowMs: number | undefined;
  /** 0: no age limit. */
  readonly maxAgeMs: number;
}

/**
 * Which credentials the environment gives (checked when the URL is parsed);
 * the secrets themselves are read from it only when connecting
 * (natsSecrets), so resolved options never hold one.
 */
export type NatsAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'token' }
  | { readonly kind: 'user'; readonly user: string }
  | { readonly kind: 'creds'; readonly path: string };

/** The secrets `auth` says the environment holds, read now. */
export function natsSecrets(auth: NatsAuth, env: NodeJS.ProcessEnv = process.env): { token?: string; user?: string; pass?: string; creds?: Uint8Array } {
  if (auth.kind === 'token') return { token: env[NATS_ENV.token] ?? '' };
  if (auth.kind === 'user') return { user: auth.user, pass: env[NATS_ENV.password] ?? '' };
  if (auth.kind === 'creds') return { creds: new Uint8Array(readable(auth.path, NATS_ENV.creds, 'sink')) };
  return {};
}

export interface NatsTls {
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

/** Where a NATS server is and how to log in: what the sink and the input share. */
export interface NatsEndpoint {
  /** `host:port` each, in the order given. */
  readonly servers: readonly string[];
  readonly subject: string;
  readonly auth: NatsAuth;
  /** undefined: plain TCP (unless the server asks for TLS). */
  readonly tls: NatsTls | undefined;
  /** For messages: the URL as given (it never holds a secret). */
  readonly display: string;
}

export interface NatsSinkConfig extends NatsEndpoint {
  readonly stream: NatsStreamSettings;
  /** Records published and not yet acked, at most (the backpressure window). */
  readonly window: number;
  /** An un-acked publish is sent again (same Msg-Id) after this long. */
  readonly ackTimeoutMs: number;
}

/** Environment variables the credentials come from (names, not error codes: hence not quoted like one). */
export const NATS_ENV = {
  creds: `ORDERTAIL_NATS_CREDS`,
  token: `ORDERTAIL_NATS_TOKEN`,
  user: `ORDERTAIL_NATS_USER`,
  password: `ORDERTAIL_NATS_PASSWORD`,
} as const;

const TLS_PARAMS = ['tls', 'tls_ca', 'tls_cert', 'tls_key'];
const PARAMS = new Set(['stream', 'storage', 'replicas', 'duplicate_window', 'max_age', 'window', 'ack_timeout', ...TLS_PARAMS]);
/** NATS subject tokens: no whitespace, no empty token; wildcards only in stream subjects, not in what is published to. */
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

export function isNatsUrl(value: string): boolean {
  return value.startsWith('nats://') || value.startsWith('tls://');
}

/** The stream a subject lands in when the URL names none: ORDERTAIL_ and the subject, upper-cased, dots as underscores. */
export function defaultStreamName(subject: string): string {
  return `ORDERTAIL_${subject.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}`.slice(0, 64);
}

/**
 * The parts of a nats:// URL both the sink and the input take: servers,
 * subject, TLS and (from `env`) credentials; `allowed` are the caller's own
 * parameters, returned for it to read. Throws ConfigError (key `key`).
 */
export function parseNatsEndpoint(value: string, key: string, allowed: ReadonlySet<string>, env: NodeJS.ProcessEnv): { endpoint: NatsEndpoint; params: URLSearchParams } {
  const scheme = value.startsWith('tls://') ? 'tls' : 'nats';
  const rest = value.slice(scheme.length + 3);
  const slash = rest.indexOf('/');
  const hostPart = slash < 0 ? rest : rest.slice(0, slash);
  const pathAndQuery = slash < 0 ? '' : rest.slice(slash + 1);
  const q = pathAndQuery.indexOf('?');
  const subject = decodeURIComponent(q < 0 ? pathAndQuery : pathAndQuery.slice(0, q));
  const params = new URLSearchParams(q < 0 ? '' : pathAndQuery.slice(q + 1));
  const usage = `(nats://HOST:PORT[,HOST:PORT…]/SUBJECT[?…])`;
  if (hostPart.includes('@')) {
    throw new ConfigError(
      `${key}: the URL holds credentials; put them in ${NATS_ENV.token}, ${NATS_ENV.user}/${NATS_ENV.password} or a .creds file named by ${NATS_ENV.creds} (a command line is readable by every user of the machine)`,
      key,
    );
  }
  const servers = hostPart.split(',').map((s) => s.trim());
  if (servers.length === 0 || servers.some((s) => s === '')) throw new ConfigError(`${key}: the URL names no server ${usage}`, key);
  for (const s of servers) {
    if (!HOST_PORT.test(s)) throw new ConfigError(`${key}: '${s}' is not HOST:PORT ${usage}`, key);
    const port = /:(\d+)$/.exec(s)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) throw new ConfigError(`${key}: port ${port} is out of range in '${s}'`, key);
  }
  if (subject === '') throw new ConfigError(`${key}: the URL names no subject ${usage}`, key);
  if (!SUBJECT.test(subject)) throw new ConfigError(`${key}: '${subject}' is not a subject to publish to (dot-separated tokens, no spaces, no wildcards)`, key);
  for (const name of params.keys()) {
    if (!allowed.has(name) && !TLS_PARAMS.includes(name)) throw new ConfigError(`${key}: unknown URL parameter '${name}' (${[...allowed, ...TLS_PARAMS].join(', ')})`, key);
  }
  const endpoint: NatsEndpoint = {
    servers: servers.map((s) => (/:\d+$/.test(s) ? s : `${s}:4222`)),
    subject,
    auth: authFromEnv(env, key),
    tls: parseTls(scheme, params, key),
    display: value,
  };
  return { endpoint, params };
}

/** Throws ConfigError (key `sink`) naming what is wrong. `env` is read for credentials. */
export function parseNatsSink(value: string, key = 'sink', env: NodeJS.ProcessEnv = process.env): NatsSinkConfig {
  const { endpoint, params } = parseNatsEndpoint(value, key, PARAMS, env);
  const subject = endpoint.subject;
  const streamName = params.get('stream') ?? defaultStreamName(subject);
  if (!STREAM_NAME.test(streamName)) throw new ConfigError(`${key}: stream name '${streamName}' must be 1-64 letters, digits, '_' or '-'`, key);
  const storage = params.get('storage') ?? 'file';
  if (storage !== 'file' && storage !== 'memory') throw new ConfigError(`${key}: storage must be file or memory, got '${storage}'`, key);
  const replicas = optionalInteger(params.get('replicas'), 1, 5, 'replicas', key);
  const duplicateWindowMs = optionalDuration(params.get('duplicate_window'), 'duplicate_window', key);
  const maxAgeMs = optionalDuration(params.get('max_age'), 'max_age', key) ?? 0;
  const window = optionalInteger(params.get('window'), 1, 1_000_000, 'window', key) ?? 4096;
  const ackTimeoutMs = optionalDuration(params.get('ack_timeout'), 'ack_timeout', key) ?? 5000;
  if (ackTimeoutMs < 100) throw new ConfigError(`${key}: ack_timeout must be at least 100ms`, key);
  return { ...endpoint, stream: { name: streamName, storage, replicas, duplicateWindowMs, maxAgeMs }, window, ackTimeoutMs };
}

export const STREAM_NAME_PATTERN = STREAM_NAME;

export function optionalInteger(text: string | null, min: number, max: number, name: string, key: string): number | undefined {
  if (text === null) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new ConfigError(`${key}: ${name} must be an integer from ${min} to ${max}, got '${text}'`, key);
  return n;
}

function parseTls(scheme: string, params: URLSearchParams, key: string): NatsTls | undefined {
  const flag = params.get('tls');
  if (flag !== null && flag !== 'true' && flag !== 'false') throw new ConfigError(`${key}: tls must be true or false, got '${flag}'`, key);
  const tls: NatsTls = { caFile: params.get('tls_ca') ?? undefined, certFile: params.get('tls_cert') ?? undefined, keyFile: params.get('tls_key') ?? undefined };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw new ConfigError(`${key}: tls_cert and tls_key go together`, key);
  for (const [name, path] of [['tls_ca', tls.caFile], ['tls_cert', tls.certFile], ['tls_key', tls.keyFile]] as const) {
    if (path !== undefined) readable(path, name, key);
  }
  const wanted = scheme === 'tls' || flag === 'true' || tls.caFile !== undefined || tls.certFile !== undefined;
  if (flag === 'false' && (scheme === 'tls' || tls.caFile !== undefined || tls.certFile !== undefined)) throw new ConfigError(`${key}: tls=false contradicts tls:// or a TLS file`, key);
  return wanted ? tls : undefined;
}

function authFromEnv(env: NodeJS.ProcessEnv, key: string): NatsAuth {
  const creds = env[NATS_ENV.creds];
  const token = env[NATS_ENV.token];
  const user = env[NATS_ENV.user];
  const password = env[NATS_ENV.password];
  const given = [creds, token, user ?? password].filter((v) => v !== undefined && v !== '').length;
  if (given > 1) throw new ConfigError(`${key}: more than one of ${NATS_ENV.creds}, ${NATS_ENV.token} and ${NATS_ENV.user}/${NATS_ENV.password} is set; set one`, key);
  if (creds) {
    const text = readable(creds, NATS_ENV.creds, key);
    if (!/-----BEGIN NATS USER JWT-----/.test(text.toString('utf8'))) throw new ConfigError(`${key}: ${NATS_ENV.creds} names ${creds}, which is not a NATS .creds file (no user JWT in it)`, key);
    return { kind: 'creds', path: creds };
  }
  if (token) return { kind: 'token' };
  if (user || password) {
    if (!user || !password) throw new ConfigError(`${key}: ${NATS_ENV.user} and ${NATS_ENV.password} go together (one of them is not set)`, key);
    return { kind: 'user', user };
  }
  return { kind: 'none' };
}

function readable(path: string, name: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${key}: ${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, key);
  }
}

export function optionalDuration(text: string | null, name: string, key: string): number | undefined {
  if (text === null) return undefined;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 0) throw new ConfigError(`${key}: ${name} must be a duration (like 2m or 500ms), got '${text}'`, key);
  return ms;
}
