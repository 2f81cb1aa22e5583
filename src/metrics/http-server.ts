import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { MetricsListenError, MetricsOptionError } from './errors.js';
import { comparisonJson, filesJson, latencyJson, seriesJson, streamingJson } from './json-endpoints.js';
import type { Logger } from './logger.js';
import { registerDefaultMetrics, registerEngineMetrics } from './prometheus.js';
import { TelemetrySampler, type SamplerOptions } from './sampler.js';
import { STATUS_PAGE_HTML } from './status-page.js';
import type { TelemetrySource } from './telemetry.js';
import { hostAllowList, isLoopback } from './host-check.js';

/** A source that may also run the WebSocket broadcaster (the Engine with wsPort): the status page streams from it. */
export interface BroadcastingSource {
  broadcastEndpoint?(): { port: number; tokenRequired: boolean } | undefined;
}

export interface MetricsServerOptions {
  source: TelemetrySource & BroadcastingSource;
  /**
   * Registry to expose. The engine metrics are registered into it (and removed
   * again by close()); Node default metrics are added unless it has them
   * already. Default: a new registry.
   */
  registry?: Registry;
  /** Default 127.0.0.1: metrics are not for the network unless asked. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Host names (besides localhost, this machine's name and `host`) that requests may carry in `Host:`. */
  allowedHosts?: readonly string[];
  logger?: Logger;
  /** Sampling of the per-second series behind the JSON endpoints and the page. */
  sampler?: SamplerOptions;
}

export interface MetricsServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly sampler: TelemetrySampler;
  /** Stop sampling, drop open connections, unregister the engine metrics. Idempotent. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The page may talk to this server only, and run its own inline script: no CDN, nothing external. */
const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

/**
 * Serve /metrics (Prometheus), the JSON endpoints, /healthz, /readyz and the
 * status page at /. Rejects (never throws) on a bad option or a failed bind.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { source, logger } = options;
  const host = options.host ?? '127.0.0.1';
  const port = options.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new MetricsOptionError(`port must be an integer from 0 to 65535, got ${String(port)}`, 'port');
  }
  const registry = options.registry ?? new Registry();
  registerDefaultMetrics(registry);
  const engineMetrics = registerEngineMetrics(registry, source);
  const sampler = new TelemetrySampler(source, options.sampler);
  const hostAllowed = hostAllowList(host, options.allowedHosts);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, err));
  });
  // Scrapers and the page keep connections alive; shorter than a scrape interval.
  server.keepAliveTimeout = 5_000;

  const fail = (res: ServerResponse, err: unknown): void => {
    logger?.error({ err }, 'metrics request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'ORDERTAIL_METRICS_INTERNAL';
    sendJson(res, 500, { error: err instanceof Error ? err.message : String(err), code });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    logger?.trace({ method: req.method, path: url.pathname }, 'metrics request');
    if (!hostAllowed(req.headers.host)) {
      sendJson(res, 403, { error: `Host '${req.headers.host ?? ''}' is not allowed (add it with --metrics-allowed-hosts)`, code: 'ORDERTAIL_HTTP_HOST_NOT_ALLOWED' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: `${req.method ?? '?'} not allowed`, code: 'ORDERTAIL_HTTP_METHOD_NOT_ALLOWED' });
      return;
    }
    switch (url.pathname) {
      case '/': {
        // The page's live view connects to the broadcaster's port on whatever name the page was reached by.
        const ws = source.broadcastEndpoint?.();
        const csp = ws ? PAGE_CSP.replace("connect-src 'self'", `connect-src 'self' ws://*:${ws.port}`) : PAGE_CSP;
        send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML, { 'content-security-policy': csp });
        return;
      }
      case '/metrics/broadcast': {
        const ws = source.broadcastEndpoint?.();
        sendJson(res, 200, ws ? { enabled: true, port: ws.port, token_required: ws.tokenRequired } : { enabled: false });
        return;
      }
      case '/metrics':
        send(res, 200, registry.contentType, await registry.metrics());
        return;
      case '/metrics/streaming':
        sendJson(res, 200, streamingJson(source, sampler));
        return;
      case '/metrics/latency':
        sendJson(res, 200, latencyJson(source, sampler));
        return;
      case '/metrics/comparison':
        sendJson(res, 200, comparisonJson(source, sampler));
        return;
      case '/metrics/files':
        sendJson(res, 200, filesJson(source));
        return;
      case '/metrics/series': {
        const raw = url.searchParams.get('since');
        const since = raw === null || raw === '' ? -Infinity : Number(raw);
        if (Number.isNaN(since)) {
          sendJson(res, 400, { error: `since: expected epoch milliseconds, got '${raw}'`, code: 'ORDERTAIL_HTTP_BAD_QUERY' });
          return;
        }
        sendJson(res, 200, seriesJson(sampler, since));
        return;
      }
      case '/healthz':
        // Alive is all this says: the event loop answered.
        sendJson(res, 200, { status: 'ok', uptime_seconds: Math.round((Date.now() - source.startedAt) / 100) / 10 });
        return;
      case '/readyz': {
        let ready: { ok: boolean; reasons: string[] };
        try {
          ready = source.readiness();
        } catch (err) {
          ready = { ok: false, reasons: [`readiness check failed: ${err instanceof Error ? err.message : String(err)}`] };
        }
        sendJson(res, ready.ok ? 200 : 503, { ready: ready.ok, reasons: ready.reasons });
        return;
      }
      default:
        sendJson(res, 404, { error: `no such path: ${url.pathname}`, code: 'ORDERTAIL_HTTP_NOT_FOUND' });
    }
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      sampler.stop();
      engineMetrics.unregister();
      reject(new MetricsListenError(host, port, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger?.error({ err }, 'metrics server error'));
  sampler.start((err) => logger?.warn({ err }, 'telemetry sample failed'));

  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  logger?.info({ url }, 'metrics server listening');
  if (!isLoopback(host)) {
    logger?.warn(
      `metrics server listens on ${host}${host === '0.0.0.0' || host === '::' ? ' (every interface)' : ''}, not loopback: its metrics, status page and input file paths are readable by whoever can reach it`,
    );
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    sampler,
    close() {
      closing ??= new Promise<void>((resolve) => {
        sampler.stop();
        engineMetrics.unregister();
        server.close(() => resolve());
        // Keep-alive connections (a scraper, an open page) would hold close() open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON_TYPE, `${JSON.stringify(body)}\n`);
}
