/*
 * Who may connect: a bearer token (required whenever the endpoint is
 * reachable from other machines) and, for browsers, the page's origin.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { ConfigError } from '../config/errors.js';
import { isLoopback } from '../metrics/host-check.js';
import { DEFAULT_TOKEN_ENV, type BroadcastConfig } from '../config/broadcast.js';

/** The subprotocol prefix a browser uses to carry the token (it cannot set Authorization on a WebSocket). */
export const TOKEN_PROTOCOL_PREFIX = 'bearer.';
/** The subprotocol the server answers with when a client offers it. */
export const PROTOCOL = 'ordertail.v1';

/**
 * The token the endpoint asks for, read once at start; undefined when none is
 * configured on a loopback endpoint. A ConfigError (exit 2) when one is
 * needed and missing, or its file cannot be read or is empty.
 */
export function loadToken(config: BroadcastConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const source = config.token ?? { env: DEFAULT_TOKEN_ENV };
  let token: string | undefined;
  if ('file' in source) {
    try {
      token = readFileSync(source.file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`wsTokenFile: cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'wsTokenFile');
    }
    if (token === '') throw new ConfigError(`wsTokenFile: ${source.file} is empty`, 'wsTokenFile');
  } else {
    token = env[source.env]?.trim() || undefined;
    if (token === undefined && config.token) throw new ConfigError(`wsTokenEnv: the environment variable ${source.env} is not set or empty`, 'wsTokenEnv');
  }
  if (token === undefined && !isLoopback(config.host)) {
    throw new ConfigError(
      `wsHost: ${config.host} is not loopback, so clients must present a bearer token: give --ws-token-file or set ${DEFAULT_TOKEN_ENV} (or --ws-token-env NAME)`,
      'wsHost',
    );
  }
  // A token is sent in a header or (browsers) a subprotocol name, which cannot hold / or =: such a token works in the header only.
  if (token !== undefined && !/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
    throw new ConfigError('the WebSocket token may hold only letters, digits and . _ ~ + / = -', config.token && 'file' in config.token ? 'wsTokenFile' : 'wsTokenEnv');
  }
  return token;
}

/** Compares in constant time (on digests, so the length does not leak either). */
export function tokenCheck(token: string | undefined): (presented: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const want = createHash('sha256').update(token).digest();
  return (presented) => presented !== undefined && timingSafeEqual(want, createHash('sha256').update(presented).digest());
}

/** The token a client presents: `Authorization: Bearer T`, or a `bearer.T` subprotocol (browsers). */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  for (const p of offeredProtocols(req)) if (p.startsWith(TOKEN_PROTOCOL_PREFIX)) return p.slice(TOKEN_PROTOCOL_PREFIX.length);
  return undefined;
}

export function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  return header === undefined ? [] : header.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Browsers send Origin; other clients need not (the token guards them). By
 * default a page served from this machine (loopback, its hostname, the bound
 * host: the status page) may connect and no other, so a web page elsewhere
 * cannot read the stream through a visitor's browser.
 */
export function originCheck(config: BroadcastConfig): (origin: string | undefined) => boolean {
  if (config.allowedOrigins?.includes('*')) return () => true;
  const listed = new Set((config.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/$/, '')));
  const local = new Set(['localhost', hostname().toLowerCase(), config.host.toLowerCase()]);
  return (origin) => {
    if (origin === undefined) return true;
    const o = origin.toLowerCase();
    if (listed.has(o)) return true;
    if (config.allowedOrigins !== undefined) return false;
    let host: string;
    try {
      host = new URL(o).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return false;
    }
    return isLoopback(host) || local.has(host);
  };
}
