/**
 * Shared range buffers, reused. Each is sized for one range plus the longest
 * allowed record straddling its end; pages are only committed when touched, so
 * a mostly-idle buffer costs address space, not memory.
 */
export class BufferPool {
  private readonly free: SharedArrayBuffer[] = [];
  private outstanding = 0;

  constructor(
    readonly bufferBytes: number,
    private limit: number,
  ) {}

  /** Buffers out at once from now on (a config reload changed the worker count); spares beyond it are let go. */
  setLimit(limit: number): void {
    this.limit = limit;
    this.free.length = Math.min(this.free.length, Math.max(0, limit - this.outstanding));
  }

  get available(): number {
    return this.limit - this.outstanding;
  }

  acquire(): SharedArrayBuffer | undefined {
    if (this.outstanding >= this.limit) return undefined;
    this.outstanding++;
    return this.free.pop() ?? new SharedArrayBuffer(this.bufferBytes);
  }

  release(buffer: SharedArrayBuffer): void {
    this.outstanding--;
    if (this.outstanding + this.free.length < this.limit) this.free.push(buffer);
  }
}
