import type { Registry } from 'prom-client';

/**
 * A sink receives accepted records as newline-terminated byte batches.
 *
 * `write` copies or consumes `chunk` before returning: the caller reuses the
 * memory right after. It returns `true` when the sink can take more now, or a
 * promise that settles when it can (backpressure, never unbounded buffering).
 */
export interface Sink {
  readonly name: string;
  /**
   * With `wantsOrigins`, `origins` says where the chunk's bytes were read:
   * valid only during the call.
   */
  write(chunk: Uint8Array, origins?: ChunkOrigins): true | Promise<void>;
  /**
   * Optional gathered write of `chunks`, in order. A sink that has it lets the
   * staging buffer hand over runs of records straight from the input buffers
   * instead of copying them first. Returns true when the write was taken; the
   * sink may still be writing, and the chunks' memory must stay untouched
   * until `written` is called (with the error, if it failed). Returns a
   * promise, without taking the chunks, while an earlier write is still under
   * way: call again once it settles.
   */
  writev?(chunks: readonly Uint8Array[], written: (err?: Error) => void): true | Promise<void>;
  /**
   * Optional, beside writev: the same gathered write given as `count` runs,
   * triples in `runs` (index into `sources`, start, end), so that a sink
   * handing the batch to native code passes a few buffers and one array
   * instead of a view per run. `runs` and the sources' bytes stay untouched
   * until `written` is called.
   */
  writeRuns?(sources: readonly Uint8Array[], runs: Uint32Array, count: number, written: (err?: Error) => void): true | Promise<void>;
  /**
   * Optional: queue `chunk` ahead of the bytes of earlier write() calls the
   * sink still holds (not yet handed to the OS), behind those it has handed
   * on and behind earlier chunks written ahead. The staging buffer writes a
   * live record this way, so it does not wait behind a backfill's output.
   * Never waits: the caller bounds what it writes ahead by `held.ahead`.
   * A sink with it also has `held`.
   */
  writeAhead?(chunk: Uint8Array): true;
  /** With writeAhead: bytes the sink holds, not yet handed to the OS, of write() calls and written ahead. */
  readonly held?: HeldBytes;
  /**
   * Set by a sink that names records by where they were read (NATS Msg-Ids of
   * records without a key): write() is then given their origins, and the
   * staging buffer copies batches instead of gathering them.
   */
  readonly wantsOrigins?: boolean;
  /** Connect and prepare before the engine reads anything (a network sink). */
  connect?(): Promise<void>;
  /** Why it cannot take records now (undefined: it can); /readyz reports it. */
  notReadyReason?(): string | undefined;
  /** Serve its metrics from the engine's registry (when a metrics server runs). */
  registerMetrics?(registry: Registry): Promise<void>;
  /** Make everything written so far durable/visible. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where a chunk's bytes come from: from byte `at[i]` of the chunk on (up to
 * `at[i + 1]`), the bytes are those of file `origin[i]` (its identity,
 * `dev:ino`) from byte `filePos[i]` on, contiguous.
 */
export interface ChunkOrigins {
  readonly count: number;
  readonly at: readonly number[];
  readonly origin: readonly string[];
  readonly filePos: readonly number[];
}

/** Bytes a sink holds, not yet handed on (see Sink.held). */
export interface HeldBytes {
  readonly written: number;
  readonly ahead: number;
}
