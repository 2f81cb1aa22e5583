/*
 * The sink's one connection, made again after the server went away: backoff
 * from FIRST_DELAY_MS doubling to MAX_DELAY_MS, retried for as long as the engine runs (the
 * engine waits meanwhile, holding what it read; nothing is lost). Errors that
 * no retry fixes (wrong password, no such database) are configuration errors.
 */
import pg from 'pg';
import { ConfigError, EngineError } from '../../config/errors.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;

/** SQLSTATEs of a connection that retrying will not fix. */
const FATAL_STATES = new Set(['28P01', '28000', '3D000', '42501']);

export function isFatalConnectError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return FATAL_STATES.has(code);
  // TLS asked for and refused, or a certificate that does not verify: sslmode, not the network.
  return err instanceof Error && /SSL|certificate|self[- ]signed/i.test(err.message);
}

export interface ConnectionEvents {
  /** The database could not be reached or dropped the connection (first failure of an outage). */
  down(message: string): void;
  /** Reachable again after an outage. */
  up(downForMs: number): void;
}

export class PgConnection {
  private client: pg.Client | undefined;
  private downSince: number | undefined;
  private lastError = '';
  private closed = false;
  private wake: (() => void) | undefined;
  /** The connect loop under way: callers share it, so there is never a second client. */
  private connecting: Promise<pg.Client> | undefined;
  reconnects = 0;
  private connectedOnce = false;

  constructor(
    private readonly connectionString: string,
    private readonly display: string,
    private readonly events: ConnectionEvents,
  ) {}

  /** Why the database is not usable now (undefined while it is). */
  get outage(): string | undefined {
    return this.downSince === undefined ? undefined : `database unreachable for ${Math.round((Date.now() - this.downSince) / 1000)} s: ${this.lastError}`;
  }

  /** A connected client, waiting (with backoff) for one as long as it takes. */
  get(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * Connect again in the background after an outage, when nothing else will:
   * an idle connection that dropped would otherwise keep the outage (and
   * /readyz) open until its next commit.
   */
  reconnectIdle(): void {
    if (this.client || this.connecting || this.closed || this.downSince === undefined) return;
    this.get().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    let delay = FIRST_DELAY_MS;
    for (;;) {
      // Not a connection error: nothing is to retry this (the sink is stopping).
      if (this.closed) throw new EngineError('ORDERTAIL_SINK', `${this.display}: sink closed while waiting for the database (${this.lastError})`);
      const client = new pg.Client({ connectionString: this.connectionString, application_name: 'ordertail' });
      // An idle connection that drops reports here; the next query notices and reconnects.
      client.on('error', (err) => this.lost(client, err));
      try {
        await client.connect();
        this.client = client;
        if (this.connectedOnce) this.reconnects++;
        this.connectedOnce = true;
        if (this.downSince !== undefined) {
          const downFor = Date.now() - this.downSince;
          this.downSince = undefined;
          this.events.up(downFor);
        }
        return client;
      } catch (err) {
        client.end().catch(() => {});
        if (isFatalConnectError(err)) {
          throw new ConfigError(`${this.display}: ${(err as Error).message}`, 'sink', { cause: err });
        }
        this.failed(err);
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

  /** A query failed for a reason other than its data: this connection is done. */
  failed(err: unknown): void {
    this.lastError = err instanceof Error ? err.message || String((err as { code?: string }).code) : String(err);
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
    if (this.downSince === undefined) {
      this.downSince = Date.now();
      this.events.down(this.lastError);
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client === client) this.failed(err);
  }

  /** No more waiting: a pending get() fails, the connection ends. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
