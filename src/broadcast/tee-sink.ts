import type { Sink } from '../sinks/sink.js';

/** Takes a copy of what the engine writes to its sink. Must not wait, throw, or keep the chunks. */
export interface BatchTap {
  offer(chunks: readonly Uint8Array[]): void;
}

/**
 * The engine's sink, with each batch it takes also handed to `tap`. The sink
 * is written first and its answer returned as it is: backpressure, errors and
 * gathered writes are the sink's alone. A writev the sink did not take (it
 * returned a promise) is not offered: the staging buffer calls again.
 */
export function teeSink(sink: Sink, tap: BatchTap): Sink {
  const tee: Sink = {
    name: sink.name,
    ...(sink.wantsOrigins ? { wantsOrigins: true } : {}),
    write(chunk, origins) {
      const result = origins ? sink.write(chunk, origins) : sink.write(chunk);
      tap.offer([chunk]);
      return result;
    },
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
  if (sink.writeAhead) {
    const writeAhead = sink.writeAhead.bind(sink);
    tee.writeAhead = (chunk) => {
      const result = writeAhead(chunk);
      tap.offer([chunk]);
      return result;
    };
    Object.defineProperty(tee, 'held', { get: () => sink.held, enumerable: true });
  }
  if (sink.writev) {
    const writev = sink.writev.bind(sink);
    tee.writev = (chunks, written) => {
      const result = writev(chunks, written);
      if (result === true) tap.offer(chunks);
      return result;
    };
  }
  return tee;
}
