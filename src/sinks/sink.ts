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
  /** Make everything written so far durable/visible. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
