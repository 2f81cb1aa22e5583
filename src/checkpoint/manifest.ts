import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';
import type { Packr } from 'msgpackr';
import type { Fingerprint } from './identity.js';

/**
 * The checkpoint manifest, `checkpoint.msgpack`: msgpack of
 * `[FORMAT, VERSION, crc32(body), body]`, body being the msgpack of a
 * `CheckpointState`. The CRC tells a damaged file from a valid one, so a
 * corrupt checkpoint is an error, never read as "no checkpoint".
 *
 * The dedup table is not inside: it is in `dedup-<generation>.bin`, named by
 * the manifest that commits it, either as a raw copy of the table's shared
 * memory (restored with one read instead of millions of inserts) or, while the
 * table is sparse, as its live entries (see CheckpointState.dedup).
 */
export const MANIFEST_FILE = 'checkpoint.msgpack';
export const MANIFEST_FORMAT = 'ordertail-checkpoint';
export const MANIFEST_VERSION = 1;

/** Where reading a file resumes: the first record not yet durably in the sink. */
export interface ResumePoint {
  offset: number;
  /** The bytes at `offset` up to the next LF belong to a record already handled. */
  skipPartial: boolean;
  /** Streamed JSON array files: the parser's phase at `offset`. */
  carryPhase: number;
}

export interface CheckpointedFile extends ResumePoint {
  /** Last path it was seen at (identity, not path, is what matches it again). */
  path: string;
  identity: string;
  fingerprint: Fingerprint;
  /** A byte-for-byte copy of another file (copytruncate): not read unless its original is truncated. */
  copyOf?: string;
}

export interface CheckpointedOutput {
  /** 'file' outputs are truncated back to `committedBytes` on restart. */
  kind: 'file' | 'stdout' | 'none' | 'iterator';
  path?: string;
  committedBytes?: number;
  /**
   * The file's `dev:ino` when written (checkpoints before 2026-12-05 have none):
   * a restart cuts back only that file, and takes another one found at the
   * path (rotated or replaced while stopped) as a new output.
   */
  identity?: string;
}

export interface CheckpointState {
  generation: number;
  writtenAtMs: number;
  sink: CheckpointedOutput;
  /**
   * The file a config reload is switching the sink to, at the length it had
   * when opened: records go to it only once a checkpoint naming it has
   * landed, and a restart from such a checkpoint cuts it back to this length
   * (engine.ts, switchSink).
   */
  nextSink?: { path: string; committedBytes: number; identity?: string };
  deadLetter?: CheckpointedOutput;
  /**
   * 'raw': the table's shared memory as it is (restored with one read);
   * 'entries': the held keys as dedup entries (src/dedup/entries.ts, DedupTable.exportEntries),
   * used while the table is under a quarter full — a much smaller write.
   */
  dedup: {
    format: 'raw' | 'entries';
    file: string;
    byteLength: number;
    windowMs: number;
    capacity: number;
    /** Keys inserted since that snapshot, in order (DedupJournal), replayed over it on restart. */
    journal?: { file: string; byteLength: number };
  };
  files: CheckpointedFile[];
}

let packr: Packr | undefined;

/**
 * msgpackr is loaded at the first checkpoint read or write, not with the
 * engine: with its native-extension probe it is a noticeable part of start-up
 * (measured by hand, figures in bench/RESULTS.md), and a run without
 * checkpoints never needs it. require() keeps encode and decode
 * synchronous (msgpackr ships a CommonJS build beside its ES module).
 */
function codec(): Packr {
  if (!packr) {
    const msgpackr = createRequire(import.meta.url)('msgpackr') as typeof import('msgpackr');
    packr = new msgpackr.Packr({ useRecords: false, moreTypes: false });
  }
  return packr;
}

export function encodeManifest(state: CheckpointState): Buffer {
  const body = codec().pack(state);
  return codec().pack([MANIFEST_FORMAT, MANIFEST_VERSION, crc32(body), body]);
}

/** Throws a plain Error describing what is wrong; the store wraps it with the file name. */
export function decodeManifest(bytes: Buffer): CheckpointState {
  let outer: unknown;
  try {
    outer = codec().unpack(bytes);
  } catch (err) {
    throw new Error(`is not valid msgpack (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(outer) || outer.length !== 4 || outer[0] !== MANIFEST_FORMAT) {
    throw new Error('is not an ordertail checkpoint');
  }
  const [, version, crc, body] = outer as [string, unknown, unknown, unknown];
  if (version !== MANIFEST_VERSION) throw new Error(`has format version ${String(version)}; this ordertail reads version ${MANIFEST_VERSION}`);
  if (!(body instanceof Uint8Array) || typeof crc !== 'number' || crc32(body) !== crc) {
    throw new Error('fails its checksum (damaged or partially written)');
  }
  const state = codec().unpack(body) as CheckpointState;
  if (!state || typeof state.generation !== 'number' || !Array.isArray(state.files) || !state.dedup || !state.sink) {
    throw new Error('is missing required fields');
  }
  return state;
}
