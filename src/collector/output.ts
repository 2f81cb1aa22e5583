import { CollectorSinkError } from './errors.js';

/** Same shape as the engine's Sink.write: `true`, or a promise while the sink is full. */
export type WriteFn = (chunk: Uint8Array) => true | Promise<void>;

/**
 * Serialises batches from all exchange pollers into one writer. A batch is
 * written with one call, so lines never interleave; when the writer pushes
 * back (returns a promise), later batches wait for it, and so do the pollers
 * that produced them: a slow sink slows polling instead of growing a buffer.
 */
export class BatchWriter {
  private waiting: Promise<void> | undefined;
  private failed: CollectorSinkError | undefined;
  private closed = false;
  bytes = 0;
  batches = 0;
  /** Batches that arrived after close(): answers to requests that outlived the shutdown deadline. */
  late = 0;

  constructor(private readonly write: WriteFn) {}

  /** Write one batch of NDJSON text (complete lines, each ending in \n). */
  async push(text: string): Promise<void> {
    while (this.waiting) await this.waiting;
    if (this.failed) throw this.failed;
    if (this.closed) {
      // The owner may have closed the sink already: writing now would fail or reopen it.
      this.late++;
      return;
    }
    const chunk = Buffer.from(text, 'utf8');
    let result: true | Promise<void>;
    try {
      result = this.write(chunk);
    } catch (err) {
      throw this.fail(err);
    }
    this.bytes += chunk.length;
    this.batches++;
    if (result === true) return;
    this.waiting = result.then(
      () => {
        this.waiting = undefined;
      },
      (err: unknown) => {
        this.waiting = undefined;
        this.fail(err);
      },
    );
    await this.waiting;
    if (this.failed) throw this.failed;
  }

  /** Take no more batches (later ones are counted in `late`, not written). */
  close(): void {
    this.closed = true;
  }

  /** Resolves when the writer has taken everything pushed so far. */
  async idle(): Promise<void> {
    while (this.waiting) await this.waiting;
  }

  private fail(err: unknown): CollectorSinkError {
    this.failed ??= new CollectorSinkError(`the collector's sink failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    return this.failed;
  }
}
