/*
 * What a ParsePool is started with, apart from the pool itself: deciding it
 * needs neither Piscina nor the worker module, so a run that starts no parse
 * thread (pool/threads-for-work.ts) never loads them.
 */
import type { ResolvedOptions } from '../config/options.js';
import type { ParserName } from '../parser/select.js';
import { threadsForWork } from './threads-for-work.js';

export interface ParsePoolOptions {
  /** Threads started, and kept: threadsForWork() (0: none until a range needs one, then 1). */
  workers: number;
  keyFields: readonly string[];
  eventTimeField: string;
  maxRecordBytes: number;
  parser: string;
  parserShadow: string | undefined;
  shadowSample: number;
  canaryParser: string | undefined;
  /** Files are followed: the threads yield the CPU to the main thread's live lane. */
  follow: boolean;
  /** A worker died outside a task (e.g. its parser failed to load). */
  onWorkerError: (error: Error) => void;
}

/** What the worker threads are started with: everything but the error callback. */
export type ParsePoolConfig = Omit<ParsePoolOptions, 'onWorkerError'>;

/**
 * The pool configuration for engine options and the resolved parser: the one
 * mapping, shared by the engine and by the CLI's prewarm, whose pool the engine
 * takes over only when both produce the same configuration.
 */
export function parsePoolConfig(o: ResolvedOptions, parser: ParserName): ParsePoolConfig {
  return {
    workers: threadsForWork(o),
    keyFields: o.dedupKey,
    eventTimeField: o.eventTime,
    maxRecordBytes: o.maxRecordBytes,
    parser,
    parserShadow: o.parserShadow,
    shadowSample: o.shadowSample,
    canaryParser: o.canaryParser,
    follow: !o.once,
  };
}
