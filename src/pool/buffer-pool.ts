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
    readonly limit: number,
  ) {}

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
    this.free.push(buffer);
  }
}
