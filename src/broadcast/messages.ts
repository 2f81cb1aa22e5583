/** Messages between the engine's thread (broadcaster.ts) and the broadcaster's (broadcast-worker.ts). */
import type { BroadcastConfig } from '../config/broadcast.js';
import type { BroadcastStats } from './stats.js';

export interface WorkerData {
  config: BroadcastConfig;
  token: string | undefined;
}

export type ToWorker =
  /** A copy of sink batches (transferred), emitted at `at` (epoch ms). */
  | { kind: 'batch'; buffer: ArrayBuffer; at: number }
  /** Records the engine's thread dropped because this thread was too far behind. */
  | { kind: 'lost'; records: number }
  | { kind: 'stats' }
  | { kind: 'close' };

export type FromWorker =
  | { kind: 'listening'; port: number }
  | { kind: 'listen-failed'; message: string; code: string | undefined }
  /** Bytes of batches handled since the last ack (the engine's thread bounds what is in flight by them). */
  | { kind: 'ack'; bytes: number }
  | { kind: 'stats'; stats: BroadcastStats; latency: string | undefined }
  | { kind: 'closed' };
