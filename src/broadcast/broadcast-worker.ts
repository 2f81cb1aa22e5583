/*
 * The broadcaster's thread: owns the WebSocket server. The engine's thread
 * only copies batches and posts them here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';
import { BroadcastServer } from './server.js';

/** Stats (and the latency recorded since) reach the engine's thread this often, for scrapes. */
const STATS_INTERVAL_MS = 1000;

const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);
const { config, token } = workerData as WorkerData;

let server: BroadcastServer;
try {
  server = await BroadcastServer.listen(config, token);
} catch (err) {
  post({ kind: 'listen-failed', message: err instanceof Error ? err.message : String(err), code: (err as NodeJS.ErrnoException).code });
  process.exit(0);
}
const sendStats = (): void => post({ kind: 'stats', stats: server.snapshot(), latency: server.shipLatency() });
const timer = setInterval(sendStats, STATS_INTERVAL_MS);
timer.unref();

// Acks are summed over a turn of the event loop: one message for a burst of batches.
let unacked = 0;
const ack = (): void => {
  post({ kind: 'ack', bytes: unacked });
  unacked = 0;
};

port.on('message', (m: ToWorker) => {
  switch (m.kind) {
    case 'batch':
      server.ingest(new Uint8Array(m.buffer), m.at);
      if (unacked === 0) setImmediate(ack);
      unacked += m.buffer.byteLength;
      return;
    case 'lost':
      server.lost(m.records);
      return;
    case 'stats':
      sendStats();
      return;
    case 'close':
      clearInterval(timer);
      void server.close().then(() => {
        sendStats();
        post({ kind: 'closed' });
        port.close();
      });
  }
});
post({ kind: 'listening', port: server.port });
