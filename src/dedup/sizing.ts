/**
 * How big the dedup table is made at start-up. A table holds every key until
 * it is full (layout.ts, "Forgetting"), so its size bounds how many distinct
 * keys a replay can collapse: 'auto' sizes it from the inputs present at
 * start-up, at half load (≈ 36.6 B per key, where 8-bucket probing forgets
 * nothing), within a memory cap.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { BUCKET_SLOTS, MAX_CAPACITY, PROBE_BUCKETS, geometryFor } from './layout.js';

/** Keys per slot an 'auto' table is sized for. */
export const AUTO_TARGET_LOAD = 0.5;
/**
 * A restored table is kept (no re-insert of its entries) while the inputs'
 * records stay under this load of it: below it, probing forgets nothing
 * (bench/dedup.ts --forgetting).
 */
export const KEEP_RESTORED_LOAD = 0.6;
/** Follow mode keeps room for what arrives after start-up (a full table forgets oldest first). */
export const FOLLOW_MIN_CAPACITY = 1 << 22;
/** A one-record run still gets a table that never forgets in tests and demos. */
export const ONCE_MIN_CAPACITY = 1 << 16;
/** Bytes read from the head of each input to estimate its record size. */
const SAMPLE_BYTES = 64 * 1024;
/** Inputs sampled at most (the rest are assumed alike). */
const SAMPLE_FILES = 64;

export interface DedupSizing {
  readonly capacity: number;
  readonly bytes: number;
  /** Records the inputs were estimated to hold ('auto' only). */
  readonly estimatedRecords: number | undefined;
  /** True when the memory cap, not the estimate, set the size. */
  readonly capped: boolean;
}

export interface SizingInput {
  readonly requested: number | 'auto';
  readonly memoryCapBytes: number;
  readonly follow: boolean;
  /** Inputs found at start-up. */
  readonly paths: readonly string[];
  /** Capacity of a table restored from a checkpoint: kept when large enough (no re-insert). */
  readonly restoredCapacity?: number;
}

export function sizeDedupTable(input: SizingInput): DedupSizing {
  if (input.requested !== 'auto') {
    const geo = geometryFor(input.requested);
    return { capacity: geo.capacity, bytes: geo.byteLength, estimatedRecords: undefined, capped: false };
  }
  const records = estimateRecords(input.paths);
  let capacity = Math.max(Math.ceil(records / AUTO_TARGET_LOAD), input.follow ? FOLLOW_MIN_CAPACITY : ONCE_MIN_CAPACITY);
  if (input.restoredCapacity !== undefined && input.restoredCapacity * KEEP_RESTORED_LOAD >= records) capacity = input.restoredCapacity;
  const cap = capacityWithin(input.memoryCapBytes);
  const capped = capacity > cap;
  const geo = geometryFor(Math.min(capacity, cap));
  return { capacity: geo.capacity, bytes: geo.byteLength, estimatedRecords: records, capped };
}

/** Largest capacity whose table fits `bytes`. */
export function capacityWithin(bytes: number): number {
  const buckets = Math.floor((bytes - 256) / 128) - (PROBE_BUCKETS - 1);
  return Math.max(BUCKET_SLOTS, Math.min(MAX_CAPACITY, buckets * BUCKET_SLOTS));
}

/**
 * Records in `paths`: their total size over the average record size measured
 * on the first 64 KiB of up to 64 of them (newlines counted). Unreadable files
 * count as empty here; reading them reports the problem.
 */
export function estimateRecords(paths: readonly string[]): number {
  let total = 0;
  let sampledBytes = 0;
  let sampledLines = 0;
  const buffer = Buffer.allocUnsafe(SAMPLE_BYTES);
  let sampled = 0;
  for (const path of paths) {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      continue;
    }
    total += size;
    if (sampled >= SAMPLE_FILES || size === 0) continue;
    sampled++;
    let fd = -1;
    try {
      fd = openSync(path, 'r');
      const n = readSync(fd, buffer, 0, SAMPLE_BYTES, 0);
      sampledBytes += n;
      // NDJSON: a record per line. A .json array may be one line: its elements
      // are counted by the '},' between them (nested objects overcount: a larger table, never a smaller one).
      const lines = count(buffer, n, '\n');
      sampledLines += extname(path).toLowerCase() === '.json' ? Math.max(lines, count(buffer, n, '},')) : lines;
    } catch {
      // Counted by size only.
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  if (total === 0) return 0;
  // No newline in any sample: records of ≥ 64 KiB (or one document per file).
  const bytesPerRecord = sampledLines > 0 ? sampledBytes / sampledLines : SAMPLE_BYTES;
  return Math.ceil(total / bytesPerRecord);
}

/** Occurrences of `needle` in the first `n` bytes (records are lines, or elements of a .json array). */
function count(buffer: Buffer, n: number, needle: string): number {
  let found = 0;
  for (let at = buffer.indexOf(needle, 0); at >= 0 && at < n; at = buffer.indexOf(needle, at + 1)) found++;
  return found;
}
