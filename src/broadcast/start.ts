/** What the engine calls: the broadcaster started, its metrics registered, and the sink tee. */
import type { Registry } from 'prom-client';
import type { Sink } from '../sinks/sink.js';
import { Broadcaster } from './broadcaster.js';
import type { BroadcastConfig } from '../config/broadcast.js';
import { registerBroadcastMetrics } from './metrics.js';
import { teeSink } from './tee-sink.js';

export interface Broadcast {
  readonly broadcaster: Broadcaster;
  /** The engine's sink, with every batch it takes also broadcast. */
  tee(sink: Sink): Sink;
  /** Closes the clients and the endpoint, and removes the metrics. */
  close(): Promise<void>;
}

export async function startBroadcast(config: BroadcastConfig, registry: Registry): Promise<Broadcast> {
  const broadcaster = await Broadcaster.start(config);
  const unregister = registerBroadcastMetrics(registry, broadcaster);
  let closing: Promise<void> | undefined;
  return {
    broadcaster,
    tee: (sink) => teeSink(sink, broadcaster),
    close() {
      closing ??= broadcaster.close().finally(unregister);
      return closing;
    },
  };
}
