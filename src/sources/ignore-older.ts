/*
 * ignoreOlder: files last modified longer ago than the limit are skipped at
 * start-up (unless a checkpoint is following them) and followed from where
 * they stood once they change.
 */
import { identityOfPath } from '../checkpoint/identity.js';

export class IgnoreOlder {
  /** Skipped files: path → size when skipped. */
  private readonly skipped = new Map<string, number>();

  constructor(
    private limitMs: number | undefined,
    private readonly isCheckpointed: (identityKey: string) => boolean,
    private readonly info: (message: string) => void,
  ) {}

  /** A new limit (a config reload): it applies to files that inputs added from now on find. */
  setLimit(limitMs: number | undefined): void {
    this.limitMs = limitMs;
  }

  /** Skip this file found at start-up (or by an input pattern added by a reload)? */
  skipAtStartup(path: string): boolean {
    if (this.limitMs === undefined) return false;
    const id = identityOfPath(path);
    if (!id || Date.now() - id.mtimeMs <= this.limitMs || this.isCheckpointed(id.key)) return false;
    this.skipped.set(path, id.size);
    this.info(`${path}: last modified ${new Date(id.mtimeMs).toISOString()}, older than ignoreOlder; skipped until it changes`);
    return true;
  }

  has(path: string): boolean {
    return this.skipped.has(path);
  }

  /**
   * A skipped file was seen again: the offset to follow it from when it has
   * changed since (undefined: still skipped, or not a skipped file).
   */
  resumeAt(path: string): number | undefined {
    const size = this.skipped.get(path);
    if (size === undefined) return undefined;
    const id = identityOfPath(path);
    if (!id || id.size === size) return undefined;
    this.skipped.delete(path);
    return size;
  }
}
