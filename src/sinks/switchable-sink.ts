/*
 * The configured sink behind one object that stays put, so a config reload
 * can put another sink in its place: the staging buffer (and the WebSocket
 * tee around it) keep writing to this. The engine replaces the sink only at a
 * point where everything emitted so far has been flushed into it (a
 * checkpoint boundary), so each record lands in exactly one of the two.
 */
import type { HeldBytes, Sink } from './sink.js';

export class SwitchableSink implements Sink {
  /**
   * Offered when the first sink has it: the staging buffer picks its mode
   * (gathered or copied batches) once, by that sink, as it did without this
   * wrapper. A later sink without writev gets the chunks joined (gathered).
   */
  readonly writev?: Sink['writev'];
  /**
   * Offered when the first sink has it, as writev is. The staging buffer
   * writes ahead only while `held` is known (the sink in use has it), and
   * a swap comes when everything emitted is flushed: a later sink without it
   * is never written ahead.
   */
  readonly writeAhead?: Sink['writeAhead'];

  constructor(private current: Sink) {
    if (current.writev) this.writev = (chunks, written) => this.gathered(chunks, written);
    if (current.writeAhead) this.writeAhead = (chunk) => this.ahead(chunk);
  }

  get held(): HeldBytes | undefined {
    return this.current.held;
  }

  private ahead(chunk: Uint8Array): true {
    if (!this.current.writeAhead) throw new Error(`${this.current.name} cannot write ahead`);
    return this.current.writeAhead(chunk);
  }

  get name(): string {
    return this.current.name;
  }

  /** The sink records go to now. */
  get target(): Sink {
    return this.current;
  }

  write(chunk: Uint8Array): true | Promise<void> {
    return this.current.write(chunk);
  }

  /**
   * A sink without writev is given the chunks joined (one copy, the one the
   * staging buffer would have made for it), and while it applies
   * backpressure the write counts as under way (`written` is called once it
   * can take more), so the staging buffer waits as it would for a writev.
   */
  private gathered(chunks: readonly Uint8Array[], written: (err?: Error) => void): true | Promise<void> {
    const target = this.current;
    if (target.writev) return target.writev(chunks, written);
    const taken = target.write(Buffer.concat(chunks));
    if (taken === true) written();
    else taken.then(() => written(), (err: unknown) => written(err instanceof Error ? err : new Error(String(err))));
    return true;
  }

  flush(): Promise<void> {
    return this.current.flush();
  }

  close(): Promise<void> {
    return this.current.close();
  }

  /** Put `next` in place of the sink in use, which is returned to be flushed and closed by the caller. */
  swap(next: Sink): Sink {
    const old = this.current;
    this.current = next;
    return old;
  }
}
