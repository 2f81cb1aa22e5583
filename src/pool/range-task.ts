import type { FramingMode } from '../parser/contract.js';
import type { ShippedStageHistograms } from '../metrics/stages.js';

/**
 * One unit of work for a parse worker: a byte range of one file. Sent once per
 * range (never per record); the worker reads the bytes itself with positional
 * reads into `buffer`, which the main thread later reads to emit records.
 */
export interface RangeTask {
  readonly rangeId: number;
  /** Opened by the main thread; file descriptors are process-wide. */
  readonly fd: number;
  /** Shared with the main thread; capacity ≥ rangeBytes + maxRecordBytes + 1. */
  readonly buffer: SharedArrayBuffer;
  /** First byte position this range may look at. */
  readonly start: number;
  /** Records starting before this position belong to this range. */
  readonly end: number;
  /** Never read at or past this position (the file size that was observed). */
  readonly hardEnd: number;
  /** The bytes up to hardEnd are complete: an unterminated last record counts. */
  readonly final: boolean;
  readonly framing: FramingMode;
  /** ArrayPhase where the previous range of an Array-framed file stopped. */
  readonly carryPhase: number;
  /** `start` may fall inside a record owned by the previous range: skip to its end. */
  readonly skipFirstPartial: boolean;
  /** A too-large record is being skipped: drop bytes up to the next LF first. */
  readonly skipUntilNewline: boolean;
  /**
   * The next range of this file starts where this one's consumedEnd is (a
   * follower's sequential chain), not at `end` (history read in parallel):
   * then everything up to the line end this range reads is its own.
   */
  readonly sequential?: boolean;
  /** Share of ranges the shadow parser re-parses, as in force when the range was planned (a reload changes it); the worker's start-up value when absent. */
  readonly shadowSample?: number;
  /** Parsed by the canary parser (its file is in the canary share: pool/canary.ts). */
  readonly canary?: boolean;
  /**
   * A window over preallocated space its writer stores records into in order
   * (sources/file-cursor.ts): the first NUL byte ends what is written so far,
   * even with written bytes after it (a store seen half done), and the
   * outcome's unwrittenFrom says where.
   */
  readonly overUnwritten?: boolean;
}

export interface RangeOutcome {
  /** File position of buffer index 0: slot offsets are relative to it. */
  bufferFilePos: number;
  /** File position just past the last consumed byte. */
  consumedEnd: number;
  carryPhase: number;
  /** The file ended (at hardEnd) inside a too-large record that is being skipped. */
  skipUntilNewline: boolean;
  bytesRead: number;
  slots: number;
  /** Shadow parsing (sampled ranges only): records compared, and disagreements. */
  shadowCompared: number;
  shadowMismatches: number;
  /** Buffer index of the first disagreeing record, or -1. */
  shadowFirstMismatch: number;
  /** The worker's stage histograms since its last shipment (about every 250 ms). */
  stageHistograms?: ShippedStageHistograms;
  /** The file was shorter than planned when read (truncated meanwhile): the range's slots are void. */
  shrank?: boolean;
  /** NUL bytes read over as padding between records (range-reader.ts skipToRecordStart), counted within the range's own bytes. */
  paddingBytes?: number;
  /** File position of the first of them. */
  paddingAt?: number;
  /**
   * A sequential, non-final range found the file ending (at hardEnd) in a NUL
   * run from here: space its writer preallocated and writes over in place, not
   * padding (range-parser.ts holdUnwritten); consumedEnd stays before it.
   */
  unwrittenFrom?: number;
  /** With unwrittenFrom from an overUnwritten window: written bytes follow the NULs there (a gap, not the end). */
  writtenAfter?: boolean;
}

/** What every worker receives once, at start-up. */
export interface ParseWorkerData {
  readonly ringBuffers: readonly SharedArrayBuffer[];
  /** Int32 slot 0: the next ring index to claim (each worker claims one ring). */
  readonly claimBuffer: SharedArrayBuffer;
  readonly doorbellBuffer: SharedArrayBuffer;
  readonly keyFields: readonly string[];
  readonly eventTimeField: string;
  readonly maxRecordBytes: number;
  /** The resolved parser name (js | native | simdjson), decided on the main thread. */
  readonly parser: string;
  readonly parserShadow: string | undefined;
  readonly shadowSample: number;
  /** Parses the ranges of files in the canary share (RangeTask.canary). */
  readonly canaryParser: string | undefined;
  /** Longest a worker waits on a full ring before failing the range (ms). */
  readonly ringStallLimitMs: number;
  /** Added to the worker threads' nice value (follow mode), so the main thread's live lane runs first; 0: none. */
  readonly yieldToMainThread: number;
}
