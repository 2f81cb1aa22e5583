/*
 * The sink's one NATS connection. The first connect is retried here, with
 * backoff, for as long as the engine runs (a server that is not up yet is an
 * outage, not a mistake); credentials the server refuses are a configuration
 * error (exit 2). Once connected, the client reconnects by itself, forever,
 * and its status events become `down`/`up` here.
 */
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { ConfigError } from '../../config/errors.js';
import { natsSecrets, type NatsEndpoint } from '../../config/nats-sink.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;

export interface ConnectionEvents {
  /** The server could not be reached or dropped the connection (first failure of an outage). */
  down(message: string): void;
  /** Reachable again after an outage. */
  up(downForMs: number, server: string): void;
}

export class NatsLink {
  nc: NatsConnection | undefined;
  reconnects = 0;
  private downSince: number | undefined;
  private lastError = '';
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly config: NatsEndpoint,
    private readonly events: ConnectionEvents,
    /** Told when the connection is back: un-acked publishes may have lost their acks. */
    private readonly onReconnect: () => void,
    /** The connection closed by itself for good (credentials revoked or expired): nothing more can be published. */
    private readonly onClosed: (err: Error) => void,
  ) {}

  /** Why the server is not usable now (undefined while it is). */
  get outage(): string | undefined {
    return this.downSince === undefined ? undefined : `NATS server unreachable for ${Math.round((Date.now() - this.downSince) / 1000)} s: ${this.lastError}`;
  }

  get connected(): boolean {
    return this.nc !== undefined && this.downSince === undefined;
  }

  /** Connected, waiting (with backoff) as long as it takes; throws ConfigError on refused credentials. */
  async open(): Promise<NatsConnection> {
    const { connect, credsAuthenticator } = await import('@nats-io/transport-node');
    const c = this.config;
    const secrets = natsSecrets(c.auth);
    const options: NodeConnectionOptions = {
      servers: [...c.servers],
      name: 'ordertail',
      // The client's own reconnection, after the first connect: forever, the engine waits meanwhile.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      // A server that hangs (not one that exits: that closes the socket) is noticed within ~15 s.
      pingInterval: 5000,
      maxPingOut: 3,
      timeout: 5000,
      ...(secrets.token !== undefined ? { token: secrets.token } : {}),
      ...(secrets.user !== undefined ? { user: secrets.user, pass: secrets.pass ?? '' } : {}),
      ...(secrets.creds ? { authenticator: credsAuthenticator(secrets.creds) } : {}),
      ...(c.tls ? { tls: dropUndefined({ caFile: c.tls.caFile, certFile: c.tls.certFile, keyFile: c.tls.keyFile }) } : {}),
    };
    let delay = FIRST_DELAY_MS;
    for (;;) {
      if (this.closed) throw new Error(`${c.display}: sink closed while waiting for the NATS server (${this.lastError})`);
      try {
        const nc = await connect(options);
        this.nc = nc;
        this.upAgain(nc.getServer());
        void this.watch(nc);
        void nc.closed().then((err) => {
          if (!this.closed) this.onClosed(err ?? new Error('the NATS connection closed'));
        });
        return nc;
      } catch (err) {
        if (isFatalConnectError(err)) throw new ConfigError(`${c.display}: ${describe(err)}`, 'sink', { cause: err });
        this.failed(describe(err));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        delay = Math.min(MAX_DELAY_MS, delay * 2);
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.failed(`disconnected from ${s.server}`);
      else if (s.type === 'reconnect') {
        this.reconnects++;
        this.upAgain(s.server);
        this.onReconnect();
      } else if (s.type === 'error') this.lastError = describe(s.error);
    }
  }

  private failed(message: string): void {
    this.lastError = message;
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.events.down(message);
    }
  }

  private upAgain(server: string): void {
    if (this.downSince === undefined) return;
    const downFor = Date.now() - this.downSince;
    this.downSince = undefined;
    this.events.up(downFor, server);
  }

  /** No more waiting; pending publishes are dropped (their records are read again after a restart). */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.nc?.close().catch(() => {});
  }
}

/** Credentials or TLS the server refuses: retrying will not fix them. */
function isFatalConnectError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name;
  if (name === 'AuthorizationError' || name === 'UserAuthenticationExpiredError' || name === 'PermissionViolationError') return true;
  return /authori[sz]ation|authentication|certificate|self[- ]signed|TLS|SSL|credentials/i.test(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message && !err.message.includes(cause.message) ? `${err.message}: ${cause.message}` : err.message;
}

function dropUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
