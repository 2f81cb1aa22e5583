/**
 * A sink receives accepted records as newline-terminated byte batches.
 *
 * `write` copies or consumes `chunk` before returning: the caller reuses the
 * memory right after. It returns `true` when the sink can take more now, or a
 * promise that settles when it can (backpressure, never unbounded buffering).
 */
export interface Sink {
  readonly name: string;
  write(chunk: Uint8Array): true | Promise<void>;
  /** Make everything written so far durable/visible. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
