import type { FileCursor } from './file-cursor.js';

/**
 * How often followed files that end in preallocated space are looked at. A
 * memory-mapped writer's stores raise no inotify event (writes through
 * write()/pwrite() do, and are looked at when they come), so this bounds
 * how late its records are seen; a look is one 16-byte read per such file.
 */
export const UNWRITTEN_LOOK_MS = 2;

/**
 * The followed files whose end is NULs their writer preallocated and writes
 * over in place (FileCursor.unwrittenFrom): looked at on a timer, which runs
 * only while there are such files.
 */
export class UnwrittenSpace {
  private readonly files = new Set<FileCursor>();
  private readonly said = new WeakSet<FileCursor>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** The file's space was written over: plan a read of it. */
    private readonly written: (file: FileCursor) => void,
    private readonly info: (message: string) => void,
  ) {}

  /** After a range of `file` completed: track it while it ends in preallocated space. */
  update(file: FileCursor, sizeSeen: number): void {
    const from = file.unwrittenFrom;
    if (from === undefined) {
      this.forget(file);
      return;
    }
    if (!this.said.has(file)) {
      this.said.add(file);
      this.info(
        `${file.path} ends in NUL bytes from offset ${from} to ${sizeSeen} (space its writer preallocated, e.g. a memory-mapped appender): ` +
          `not padding but room for records written over it in place; they are read as they appear (looked for every ${UNWRITTEN_LOOK_MS} ms)`,
      );
    }
    this.files.add(file);
    if (!this.timer) {
      this.timer = setInterval(() => this.look(), UNWRITTEN_LOOK_MS);
      this.timer.unref();
    }
  }

  forget(file: FileCursor): void {
    if (!this.files.delete(file) || this.files.size > 0) return;
    this.close();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private look(): void {
    for (const file of this.files) if (file.lookAtUnwritten()) this.written(file);
  }
}
