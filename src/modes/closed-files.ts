/*
 * Which input files a batch takes: those the writer is done with ("closed":
 * not modified for the batch delay) and that no earlier batch took. A file is
 * known by its identity (dev:ino), not its path, so a new file rotated in
 * under an old name is a new file to take.
 */
import { identityOfPath } from '../checkpoint/identity.js';

export interface ClosedFile {
  readonly path: string;
  /** `dev:ino` (checkpoint/identity.ts). */
  readonly identity: string;
}

/**
 * The closed files among `paths` whose identity is not in `taken`, oldest
 * modification first (the order the batch job read them in). A path that
 * vanished since it was listed is skipped: the next batch lists again.
 */
export function closedFiles(paths: readonly string[], taken: ReadonlySet<string>, delayMs: number, nowMs: number): ClosedFile[] {
  const found: (ClosedFile & { mtimeMs: number })[] = [];
  for (const path of paths) {
    const id = identityOfPath(path);
    if (!id || taken.has(id.key) || nowMs - id.mtimeMs < delayMs) continue;
    found.push({ path, identity: id.key, mtimeMs: id.mtimeMs });
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
  return found.map(({ path, identity }) => ({ path, identity }));
}
