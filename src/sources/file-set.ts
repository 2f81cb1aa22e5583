/**
 * The files being followed and what identifies them: by path, by identity
 * (device + inode, checkpoint/identity.ts), the checkpointed files not matched
 * yet, the files read to their end and let go, and the truncations seen. It
 * decides what a file appearing at a path IS — a rename of a followed file, a
 * file a checkpoint knows, a byte copy of a followed file (copytruncate), the
 * earlier content of a truncated one — and keeps the set in emission order
 * (live files first). It opens nothing and schedules nothing: the pipeline
 * does, so rotation is testable without a worker pool.
 */
import { readSync } from 'node:fs';
import { fingerprintHash, fingerprintOf, headBytes, identityOfPath, LEAD_BYTES, sameFingerprint, type Fingerprint } from '../checkpoint/identity.js';
import type { CheckpointedFile, ResumePoint } from '../checkpoint/manifest.js';
import { Framing } from '../parser/contract.js';
import type { FileCursor } from './file-cursor.js';

/** A new file shorter than this is not compared with others as a possible copy. */
export const MIN_COPY_BYTES = LEAD_BYTES;
/** Files let go and truncations remembered (for checkpoints and copy detection). */
const RETIRED_LIMIT = 4096;
const TRUNCATIONS_LIMIT = 64;

/** A file truncated in place: where its reading stood, so a copy of it (copytruncate) resumes there. */
interface Truncation {
  fingerprint: Fingerprint;
  position: number;
}

/** Why a checkpointed file is not resumed where the checkpoint says. */
export type MismatchReason = 'replaced' | 'truncated';

export class FileSet {
  /** Followed files in emission order: live files first, then discovery order. */
  readonly files: FileCursor[] = [];
  /** Changes whenever `files` does (a file added or removed, the order changed): positions in it are valid for one version. */
  version = 0;
  private readonly byPath = new Map<string, FileCursor>();
  /** The file a path named before it was detached from it (replaced, renamed away, deleted), until that file is let go. */
  private readonly lastAt = new Map<string, FileCursor>();
  private readonly byIdentity = new Map<string, FileCursor>();
  /**
   * Files by the hash of their first LEAD_BYTES bytes (FileCursor.lead), which
   * a copy shares with its original: copy detection compares a new file with
   * these candidates, not with every file (a directory of thousands).
   */
  private readonly byLead = new Map<string, FileCursor[]>();
  /** Checkpointed files not yet matched to a file on disk (by identity). */
  private readonly resumable = new Map<string, CheckpointedFile>();
  /** Files read to the end and let go: kept so a checkpoint still knows them. */
  private readonly retired = new Map<string, CheckpointedFile>();
  private readonly truncations: Truncation[] = [];

  resumeFrom(files: readonly CheckpointedFile[]): void {
    for (const f of files) this.resumable.set(f.identity, f);
  }

  byId(identity: string): FileCursor | undefined {
    return this.byIdentity.get(identity);
  }

  atPath(path: string): FileCursor | undefined {
    return this.byPath.get(path);
  }

  /** Still in the set (not removed or retired). */
  has(file: FileCursor): boolean {
    return this.byIdentity.get(file.identity) === file;
  }

  /** A checkpoint (still unmatched) or the set knows this file identity. */
  isKnown(identity: string): boolean {
    return this.resumable.has(identity) || this.byIdentity.has(identity);
  }

  add(file: FileCursor): void {
    this.insertInOrder(file);
    this.byPath.set(file.path, file);
    this.byIdentity.set(file.identity, file);
    this.indexLead(file);
  }

  remove(file: FileCursor): void {
    if (this.byPath.get(file.path) === file) this.byPath.delete(file.path);
    if (this.lastAt.get(file.path) === file) this.lastAt.delete(file.path);
    if (this.byIdentity.get(file.identity) === file) this.byIdentity.delete(file.identity);
    this.unindexLead(file);
    const i = this.files.indexOf(file);
    if (i >= 0) this.files.splice(i, 1);
    this.version++;
  }

  /** Done with a file: remember where it ended (checkpoints, re-appearance) and drop it from the set. */
  retire(file: FileCursor): void {
    this.retired.set(file.identity, { path: file.path, identity: file.identity, fingerprint: file.lastingFingerprint, ...file.committed });
    if (this.retired.size > RETIRED_LIMIT) this.retired.delete(this.retired.keys().next().value!);
    this.remove(file);
  }

  /** A followed file became live (it grew, or is the newest at start-up): it moves among the live files, which come first. */
  markLive(file: FileCursor): void {
    if (file.live) return;
    file.live = true;
    const i = this.files.indexOf(file);
    if (i < 0) return;
    this.files.splice(i, 1);
    this.insertInOrder(file);
  }

  /** Put `file` where byPriority says, the others keeping their order (one move, not a sort: thousands of files appear at a rollover). */
  private insertInOrder(file: FileCursor): void {
    let lo = 0;
    let hi = this.files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byPriority(this.files[mid]!, file) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.files.splice(lo, 0, file);
    this.version++;
  }

  /** The same file seen under another name; a file displaced from that name is detached. */
  moveTo(file: FileCursor, path: string, now: number): void {
    if (file.path === path) return;
    if (this.byPath.get(file.path) === file) this.byPath.delete(file.path);
    if (this.lastAt.get(file.path) === file) this.lastAt.delete(file.path);
    const displaced = this.byPath.get(path);
    if (displaced && displaced !== file) this.detach(displaced, path, now);
    file.path = path;
    file.detached = false;
    this.byPath.set(path, file);
  }

  /** The path no longer names this file (rotated away, replaced, deleted): drain it, then let it go. */
  detach(file: FileCursor, path: string, now: number): void {
    if (this.byPath.get(path) === file) {
      this.byPath.delete(path);
      this.lastAt.set(path, file);
    }
    file.detached = true;
    file.lastChangeAt = now;
  }

  /** The file last read at `path` that another file (`identity`) now stands at, if it is still known. */
  replacedAt(path: string, identity: string): FileCursor | undefined {
    const there = this.byPath.get(path) ?? this.lastAt.get(path);
    return there && there.identity !== identity && this.has(there) ? there : undefined;
  }

  /** A matched path disappeared (renamed or deleted): its file is detached until seen elsewhere. */
  pathGone(path: string, now: number): void {
    const file = this.byPath.get(path);
    if (file) this.detach(file, path, now);
  }

  /**
   * The checkpoint entry for this identity, taken out of the unmatched set;
   * `point` is where to resume, or undefined (with why) when the file on disk
   * is not that file any more.
   */
  takeCheckpointed(identity: string, fd: number, size: number): { entry: CheckpointedFile; point: ResumePoint | undefined; mismatch?: MismatchReason } | undefined {
    const entry = this.resumable.get(identity);
    if (!entry) return undefined;
    this.resumable.delete(identity);
    if (!fingerprintMatches(fd, entry.fingerprint)) return { entry, point: undefined, mismatch: 'replaced' };
    if (size < entry.offset) return { entry, point: undefined, mismatch: 'truncated' };
    return { entry, point: { offset: entry.offset, skipPartial: entry.skipPartial, carryPhase: entry.carryPhase } };
  }

  /** A file already read to its end and let go, matched again (renamed back into the glob): where it ended. */
  takeRetired(identity: string, fd: number): ResumePoint | undefined {
    const retired = this.retired.get(identity);
    if (!retired || !fingerprintMatches(fd, retired.fingerprint)) return undefined;
    this.retired.delete(identity);
    return retired;
  }

  /** Checkpointed files nothing has matched yet. */
  unmatched(): CheckpointedFile[] {
    return [...this.resumable.values()];
  }

  /** A checkpointed file is accounted for (found elsewhere, or reported gone). */
  forgetCheckpointed(identity: string): void {
    this.resumable.delete(identity);
  }

  /**
   * A followed file whose first bytes this new file repeats: it is a copy
   * (copytruncate). An original already marked truncated still counts: the copy
   * may be seen before its truncation is finished. `deep` also compares
   * prefixes of different lengths (reads the original; not done for every
   * pair of thousands of start-up files). `lead`: the new file's
   * FileCursor.lead when the caller has it (saves reading its head again).
   */
  copyOrigin(fd: number, size: number, fingerprint: Fingerprint, identity: string, deep: boolean, lead?: string): FileCursor | undefined {
    if (fingerprint.bytes < MIN_COPY_BYTES) return undefined;
    // The new file's first bytes are read once (only if a candidate needs them), each prefix length hashed once.
    const prefixes = new HeadPrefixes(fd, fingerprint.bytes);
    let first: FileCursor | undefined;
    for (const other of this.byLead.get(lead ?? prefixes.hashOf(LEAD_BYTES)) ?? []) {
      if (other.identity === identity || other.copyOf || (first && byPriority(other, first) > 0)) continue;
      // Not deep (start-up): only a copy with a fingerprint of the same length, i.e. the same hash.
      if (!deep && other.fingerprint.bytes !== fingerprint.bytes) continue;
      if (isCopyOf(fd, fingerprint, other, prefixes) && this.copyHolds(fd, size, other)) first = other;
    }
    return first;
  }

  /**
   * Does the file at `fd` (`size` bytes) hold what `original` holds, as a
   * copy does (copytruncate's, a `cp` still under way, one written on after
   * it was made): the same bytes just before the shorter one's end? A file
   * that only begins as another (each hour's file opening with the same
   * header record) does not, once it holds more than that: taken for a copy,
   * it would never be read. Only an original that still holds what was read
   * can say so: one truncated or rewritten (seen as such or not yet) holds
   * other bytes now, and one let go is not opened again; the first bytes
   * compared before are then all there is to go by.
   */
  copyHolds(fd: number, size: number, original: FileCursor): boolean {
    if (original.truncated || !this.has(original)) return true;
    try {
      const originalSize = original.currentSize();
      if (originalSize < original.observedSize) return true;
      const end = Math.min(size, originalSize);
      const length = Math.min(end, COPY_COMPARED_BYTES);
      if (sameBytes(fd, original.fd, end - length, length)) return true;
      return !fingerprintMatches(original.fd, original.fingerprint);
    } catch {
      // The original cannot be read (its path names another file now): not known to be a copy, so read.
      return false;
    }
  }

  /** A truncated file's earlier content, copied before the truncation: resume where its reading stood. */
  truncatedOrigin(fd: number, fingerprint: Fingerprint): number | undefined {
    if (fingerprint.bytes < MIN_COPY_BYTES) return undefined;
    for (let i = this.truncations.length - 1; i >= 0; i--) {
      const known = this.truncations[i]!.fingerprint;
      const match =
        known.bytes === fingerprint.bytes ? known.hash === fingerprint.hash : known.bytes < fingerprint.bytes && known.bytes >= MIN_COPY_BYTES && fingerprintMatches(fd, known);
      if (match) return this.truncations[i]!.position;
    }
    return undefined;
  }

  /** A file was truncated in place where its reading stood at `position`: a copy of its old content resumes there. */
  rememberTruncation(file: FileCursor, position: number): void {
    this.truncations.push({ fingerprint: file.fingerprint, position });
    if (this.truncations.length > TRUNCATIONS_LIMIT) this.truncations.shift();
  }

  /** Re-hash a file's first bytes while it is shorter than a fingerprint (it grew), keeping the index right. */
  refreshFingerprint(file: FileCursor): void {
    const before = file.lead;
    file.refreshFingerprint();
    this.leadReached(file, before);
  }

  /** After growth: FileCursor.headUnchanged(), keeping the index right. */
  headUnchanged(file: FileCursor): boolean {
    const before = file.lead;
    if (!file.headUnchanged()) return false;
    this.leadReached(file, before);
    return true;
  }

  private leadReached(file: FileCursor, before: string | undefined): void {
    // The first LEAD_BYTES bytes of an appended file do not change: only one that reached them is indexed anew.
    if (before === undefined && file.lead !== undefined && this.byIdentity.get(file.identity) === file) this.indexLead(file);
  }

  private indexLead(file: FileCursor): void {
    if (file.lead === undefined) return;
    const list = this.byLead.get(file.lead);
    if (list) list.push(file);
    else this.byLead.set(file.lead, [file]);
  }

  private unindexLead(file: FileCursor): void {
    if (file.lead === undefined) return;
    const list = this.byLead.get(file.lead);
    const i = list?.indexOf(file) ?? -1;
    if (i < 0) return;
    if (list!.length === 1) this.byLead.delete(file.lead);
    else list!.splice(i, 1);
  }

  copiesOf(file: FileCursor): FileCursor[] {
    return this.files.filter((f) => f.copyOf === file);
  }

  /** What a checkpoint records of every file known: followed, let go, and still unmatched. */
  checkpointFiles(): CheckpointedFile[] {
    const out: CheckpointedFile[] = [...this.retired.values(), ...this.resumable.values()];
    for (const f of this.files) {
      if (f.truncated) continue; // re-read from 0 after a restart: nothing of the new content was committed
      this.refreshFingerprint(f);
      const entry: CheckpointedFile = { path: f.path, identity: f.identity, fingerprint: f.lastingFingerprint, ...f.committed };
      if (f.copyOf) {
        // A dormant copy: if its original is gone after a restart, resume where the original stood.
        entry.copyOf = f.copyOf.identity;
        entry.offset = Math.min(f.copyOf.committed.offset, f.currentSize());
        entry.skipPartial = false;
      }
      out.push(entry);
    }
    return out;
  }
}

export function fingerprintMatches(fd: number, expected: Fingerprint): boolean {
  return sameFingerprint(fingerprintOf(fd, expected.bytes), expected);
}

/** Do the first bytes of the file at `fd` (fingerprinted as `fingerprint`) repeat `original`'s, over the shorter of the two? */
export function isCopyOf(fd: number, fingerprint: Fingerprint, original: FileCursor, prefixes?: HeadPrefixes): boolean {
  const known = original.fingerprint;
  if (known.bytes === fingerprint.bytes) return known.hash === fingerprint.hash;
  if (known.bytes < fingerprint.bytes) return known.bytes >= MIN_COPY_BYTES && (prefixes ? prefixes.hashOf(known.bytes) === known.hash : fingerprintMatches(fd, known));
  // The original's content now is not what it was once truncated.
  if (original.truncated || !original.isOpen) return false;
  return sameFingerprint(fingerprintOf(original.fd, fingerprint.bytes), fingerprint);
}

/** Bytes compared just before the end of a copy, and at the start and end of a file renamed over (its next version). */
const COPY_COMPARED_BYTES = 4096;

/**
 * Where to read on in a file that was renamed over `original`'s path (a
 * writer that rewrites its file whole and renames it into place, an editor's
 * save): the original's end, when the new file holds it (as long, the same
 * first bytes — its fingerprint — and the same bytes just before that end),
 * or undefined: then the new file is other content, read from the start.
 * Such a file is never a dormant copy (copytruncate's copy sits at another
 * path): nothing would ever wake it. A whole document (.json) is always read
 * again: a new version of it is a new document.
 */
export function successorStart(fd: number, size: number, fingerprint: Fingerprint, original: FileCursor): number | undefined {
  if (original.truncated || !original.isOpen || original.framing !== Framing.Lines) return undefined;
  const end = original.currentSize();
  if (size < end || end === 0) return undefined;
  // A short original is compared whole by the window before its end.
  const length = Math.min(end, COPY_COMPARED_BYTES);
  if (end > length && !isCopyOf(fd, fingerprint, original)) return undefined;
  return sameBytes(fd, original.fd, end - length, length) ? end : undefined;
}

function sameBytes(a: number, b: number, position: number, length: number): boolean {
  const mine = Buffer.allocUnsafe(length);
  const theirs = Buffer.allocUnsafe(length);
  return readFully(a, mine, position) === length && readFully(b, theirs, position) === length && mine.equals(theirs);
}

function readFully(fd: number, into: Buffer, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The order files are planned and emitted in: live files first, then the rest in discovery order. */
export function byPriority(a: FileCursor, b: FileCursor): number {
  return Number(b.live) - Number(a.live) || a.id - b.id;
}

/** Hashes of prefixes of a file's first bytes, read once (when first asked), each length hashed once. */
export class HeadPrefixes {
  private head: Buffer | undefined;
  private readonly hashes = new Map<number, string>();

  constructor(
    private readonly fd: number,
    private readonly bytes: number,
  ) {}

  /** The fingerprint hash of the first `length` bytes (≤ the bytes given at construction). */
  hashOf(length: number): string {
    let hash = this.hashes.get(length);
    if (hash === undefined) {
      this.head ??= headBytes(this.fd, this.bytes);
      hash = fingerprintHash(this.head.subarray(0, Math.min(length, this.head.length)));
      this.hashes.set(length, hash);
    }
    return hash;
  }
}
