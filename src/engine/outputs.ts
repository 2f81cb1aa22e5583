/*
 * Opening the engine's outputs (sink, dead-letter file) where a checkpoint
 * left them: a file output is cut back to the length the checkpoint committed,
 * so a restart neither loses nor repeats a record in it.
 */
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import type { ResolvedOptions } from '../config/options.js';
import type { CheckpointedOutput, CheckpointState } from '../checkpoint/manifest.js';
import { findByIdentity, identityOfPath } from '../checkpoint/identity.js';
import { DeadLetterFile } from '../sinks/dead-letter.js';
import { FileSink, rollBack } from '../sinks/file-sink.js';
import { PostgresSink } from '../sinks/postgres/sink.js';
import { NatsSink } from '../sinks/nats/sink.js';
import type { Sink } from '../sinks/sink.js';
import { STREAM_QUEUE_BYTES, StreamSink } from '../sinks/stdout-sink.js';
import type { WarningCode } from './warnings.js';

export interface Outputs {
  readonly sink: Sink;
  /** The sink when it is a file (its committed length goes into checkpoints). */
  readonly fileSink: FileSink | undefined;
  readonly deadLetter: DeadLetterFile | undefined;
}

type Warn = (message: string, code: WarningCode) => void;

/**
 * Output batched (staging) and queued (stdout) ahead of the reader while files
 * are followed: a live record waits behind all of it during a backfill, so a
 * follower keeps both small; a --once run batches more per write.
 */
export const FOLLOW_QUEUE_BYTES = 64 * 1024;
export const ONCE_BATCH_BYTES = 1 << 20;

/** `replacement`: the records() iterator, which takes the configured sink's place. */
export function openOutputs(o: ResolvedOptions, restored: CheckpointState | undefined, replacement: Sink | undefined, warn: Warn, info: (message: string) => void = () => {}): Outputs {
  const lengthFor = (committed: CheckpointedOutput | undefined, path: string): number | undefined =>
    committedLength(committed, path, warn) ?? freshLength(o);
  let fileSink: FileSink | undefined;
  let sink: Sink;
  const deadLetterPath = o.deadLetter;
  const deadLetter = deadLetterPath ? openConfigured('deadLetter', deadLetterPath, () => new DeadLetterFile(deadLetterPath, lengthFor(restored?.deadLetter, deadLetterPath))) : undefined;
  // What a sink that parses records again (for keys) and reports outages is given, whichever it is.
  const keyedSinkOptions = {
    dedupKey: o.dedupKey,
    eventTimeField: o.eventTime,
    maxRecordBytes: o.maxRecordBytes,
    warn: (m: string) => warn(m, 'ORDERTAIL_SINK_UNAVAILABLE'),
    info,
    deadLetter: deadLetter && ((entry: Parameters<DeadLetterFile['write']>[0]) => deadLetter.write(entry)),
  };
  // The checkpoint's file outputs, when the configured sink is not a file: cut back like a file sink's old file.
  if (o.sink.kind !== 'file' && !replacement) {
    for (const output of [restored?.sink, restored?.nextSink && { kind: 'file' as const, ...restored.nextSink }]) {
      if (output?.kind === 'file') cutBack(output, o.sink.kind, warn);
    }
  }
  if (replacement) sink = replacement;
  else if (o.sink.kind === 'postgres') sink = new PostgresSink(o.sink.config, { ...keyedSinkOptions, input: o.input });
  else if (o.sink.kind === 'nats') sink = new NatsSink(o.sink.config, { ...keyedSinkOptions, dedupWindowMs: o.dedupWindowMs });
  else if (o.sink.kind === 'file' || o.sink.kind === 'stdout') ({ sink, fileSink } = openLocalSink(o, o.sink.kind === 'file' ? sinkLength(o.sink.path, restored, warn) : undefined));
  else sink = { name: 'none', write: () => true, flush: async () => {}, close: async () => {} };
  return { sink, fileSink, deadLetter };
}

/** A file sink cut back to `committedBytes` (undefined: kept as it is, or emptied with sinkMode truncate), or stdout. */
function openLocalSink(o: ResolvedOptions, committedBytes: number | undefined): { sink: Sink; fileSink: FileSink | undefined } {
  if (o.sink.kind === 'file') {
    const path = o.sink.path;
    const fileSink = openConfigured('sink', path, () => new FileSink(path, { committedBytes: committedBytes ?? freshLength(o), pageCache: o.sinkPageCache }));
    return { sink: fileSink, fileSink };
  }
  if (o.sink.kind !== 'stdout') throw new Error(`a ${o.sink.kind} sink is not a local one`);
  // A follower's live records queue behind whatever history waits for the reader: keep that short.
  return { sink: new StreamSink(process.stdout, 'stdout', o.once ? STREAM_QUEUE_BYTES : FOLLOW_QUEUE_BYTES), fileSink: undefined };
}

/** Why a configured output path cannot be opened, by the open's error code. */
const UNOPENABLE: Record<string, (path: string) => string> = {
  ENOENT: (path) => `its directory ${dirname(path)} does not exist`,
  ENOTDIR: (path) => `a part of ${dirname(path)} is not a directory`,
  EISDIR: () => 'it is a directory',
  EACCES: () => 'permission denied',
  EPERM: () => 'not permitted',
  EROFS: () => 'the file system is read-only',
  ELOOP: () => 'a loop of symbolic links',
  ENAMETOOLONG: () => 'the name is too long',
};

/**
 * An output file the configuration names that cannot be opened (its
 * directory missing, a directory in its place, no permission) is a
 * configuration error, named with why (the CLI exits 2, nothing written);
 * any other failure, a checkpoint's among them, is left as it is.
 */
export function openConfigured<T>(key: 'sink' | 'deadLetter' | 'collectorLog', path: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    const { code, syscall } = err as NodeJS.ErrnoException;
    const why =
      syscall === 'flock' && code === 'EAGAIN'
        ? 'another process writes it (another ordertail, with a checkpoint directory of its own or none?): two writers would interleave and repeat every record'
        : syscall === 'open' && code !== undefined
          ? UNOPENABLE[code]?.(path)
          : undefined;
    if (why === undefined) throw err;
    const what = key === 'sink' ? 'sink file:' : key === 'deadLetter' ? 'dead-letter file ' : 'collector log ';
    throw new ConfigError(`${what}${path} cannot be opened: ${why} (${code})`, key);
  }
}

/**
 * The sink a config reload switches to (file or stdout only: config/reload.ts),
 * opened before the reload applies, so one that cannot be opened refuses it.
 * A file is kept as it is (append) or emptied (truncate), as at start-up
 * without a checkpoint; the next checkpoint commits it from that length.
 */
export function openReplacementSink(o: ResolvedOptions): { sink: Sink; fileSink: FileSink | undefined } {
  return openLocalSink(o, undefined);
}

/**
 * The length to cut the sink file back to. A checkpoint taken while a reload
 * was switching the sink (`nextSink`) names both files: the old one is cut
 * back to what it committed (committedLength) and the new one to the length
 * it had when the switch began, whichever the config names now; records
 * after the checkpoint are then written again, once, to the configured sink.
 */
function sinkLength(path: string, restored: CheckpointState | undefined, warn: Warn): number | undefined {
  const next = restored?.nextSink;
  if (next && resolve(next.path) === resolve(path)) {
    // The old file, where the checkpoint names it (a rotation moved it away; a deleted one kept the path).
    const old = restored.sink;
    if (old.path !== undefined && resolve(old.path) !== resolve(path)) cutBack(old, path, warn);
    return committedLength({ kind: 'file', ...next }, path, warn);
  }
  const length = committedLength(restored?.sink, path, warn);
  if (next) cutBack({ kind: 'file', ...next }, path, warn);
  return length;
}

/** An output no checkpoint resumes: kept as it is (append) or emptied (truncate: a re-run replaces it). */
function freshLength(o: ResolvedOptions): number | undefined {
  return o.sinkMode === 'truncate' ? 0 : undefined;
}

/** The length a checkpoint committed for this output file, when it was written for the same file. */
function committedLength(committed: CheckpointedOutput | undefined, path: string, warn: Warn): number | undefined {
  if (!committed || committed.committedBytes === undefined || committed.path === undefined) return undefined;
  if (resolve(committed.path) !== resolve(path)) {
    cutBack(committed, path, warn);
    return undefined;
  }
  const other = anotherFile(committed, path);
  if (other !== undefined) {
    const movedTo = findByIdentity(dirname(path), committed.identity!);
    if (movedTo !== undefined) {
      // Moved before the engine stopped or noticed (a rotation): what follows the checkpoint in it is emitted again, into the new file.
      cutBack({ ...committed, path: movedTo }, path, warn);
    } else {
      warn(
        `${path} is not the file the checkpoint committed ${committed.committedBytes} bytes to (${other}: rotated or replaced, and not found beside it); ` +
          'it is written on as a new output. Records emitted after that checkpoint are also in the file it replaced if ordertail did not stop cleanly',
        'ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED',
      );
    }
    return undefined;
  }
  return committed.committedBytes;
}

/** Why the file at `path` is not the one the checkpoint wrote (undefined: it is, or the checkpoint did not say which it wrote). */
function anotherFile(committed: CheckpointedOutput, path: string): string | undefined {
  if (committed.identity === undefined) return undefined;
  const there = identityOfPath(path);
  if (there === undefined) return 'it is missing';
  return there.key === committed.identity ? undefined : 'another file is there';
}

/**
 * An output of the checkpoint that is not the one configured now (a reload
 * switched the sink, then the engine stopped before a checkpoint named only
 * the new one): the records it holds past the checkpoint are read and
 * emitted again, into `now`, so it is cut back and each record is in one of
 * the files once.
 */
function cutBack(committed: CheckpointedOutput, now: string, warn: Warn): void {
  if (committed.path === undefined || committed.committedBytes === undefined) return;
  let path = committed.path;
  if (anotherFile(committed, path) !== undefined) {
    // Moved on since (the next rotation renamed it again): cut back where it is now.
    const movedTo = findByIdentity(dirname(path), committed.identity!);
    if (movedTo === undefined) {
      warn(`checkpoint was written for output ${path}, now ${now}: that file is no longer there, nor beside it; nothing cut back`, 'ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED');
      return;
    }
    path = movedTo;
  }
  try {
    rollBack(path, committed.committedBytes);
    warn(`checkpoint was written for output ${path}, now ${now}: ${path} cut back to the ${committed.committedBytes} bytes the checkpoint covers; what followed is written again, to ${now}`, 'ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED');
  } catch (err) {
    warn(`checkpoint was written for output ${path}, now ${now}: that file is left as it is (${err instanceof Error ? err.message : String(err)})`, 'ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED');
  }
}
