import pino from 'pino';
import { MetricsOptionError } from './errors.js';

/*
 * Structured logs: pino, one JSON object per line, to stderr. Never stdout:
 * stdout may be the record sink, and a log line in it would be a corrupt record.
 *
 * Correlation: fileLogger() and rangeLogger() are pino child loggers whose
 * bindings ({file, path} then {range, start, end}) appear on every line they
 * write, so `grep '"file":"f3"'` follows one file and `"range":"f3.r17"` one
 * byte range from planning to emit.
 */

export type Logger = pino.Logger;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Default `info`. */
  level?: string;
  /** Where lines go: a file descriptor or a stream with write(string). Default: fd 2 (stderr). */
  destination?: number | pino.DestinationStream;
  /**
   * Human-readable lines instead of JSON. Default: when the destination is a
   * TTY (stderr at a terminal); JSON for pipes and files, which tools read.
   */
  pretty?: boolean;
  /** ANSI colours in pretty mode. Default: pretty and a TTY. */
  colors?: boolean;
}

/** Validate a `--log-level` value. */
export function parseLogLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new MetricsOptionError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got '${value}'`, 'level');
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = parseLogLevel(options.level ?? 'info');
  const target = options.destination ?? 2;
  const tty = typeof target === 'number' ? isTtyFd(target) : (target as { isTTY?: unknown }).isTTY === true;
  const pretty = options.pretty ?? tty;
  // Synchronous writes: log volume is low, and a line written just before a
  // crash or process.exit must not be lost in a buffer.
  const raw: pino.DestinationStream = typeof target === 'number' ? pino.destination({ dest: target, sync: true }) : target;
  const stream = pretty ? new PrettyStream(raw, options.colors ?? tty) : raw;
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: the lines are read by people and by log
      // pipelines that match on "error".
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** A child logger for one input file: every line carries `file` (the id) and `path`. */
export function fileLogger(logger: Logger, fileId: string | number, path: string): Logger {
  return logger.child({ file: String(fileId), path });
}

/**
 * A child of a fileLogger for one byte range [start, end): lines carry the
 * file's bindings plus `range` (`<file>.r<rangeId>`, unique across files),
 * `start` and `end`.
 */
export function rangeLogger(fileLog: Logger, rangeId: string | number, start: number, end: number): Logger {
  const file = (fileLog.bindings() as { file?: unknown }).file;
  const range = file === undefined ? `r${rangeId}` : `${String(file)}.r${rangeId}`;
  return fileLog.child({ range, start, end });
}

function isTtyFd(fd: number): boolean {
  if (fd === 2) return process.stderr.isTTY === true;
  if (fd === 1) return process.stdout.isTTY === true;
  return false;
}

const LEVEL_BY_NUMBER: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const COLOUR: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[36m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[35m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'err']);

/**
 * A tiny pretty-printer (instead of pino-pretty, which runs in a transport
 * thread and pulls in a dozen packages): `12:34:56.789 WARN  message key=value`,
 * an error's stack indented under it. A line that is not JSON passes through.
 */
export class PrettyStream implements pino.DestinationStream {
  constructor(
    private readonly out: pino.DestinationStream,
    private readonly colors: boolean,
  ) {}

  write(line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(line);
      return;
    }
    this.out.write(formatPretty(entry, this.colors));
  }
}

export function formatPretty(entry: Record<string, unknown>, colors: boolean): string {
  const rawLevel = entry.level;
  const level = typeof rawLevel === 'number' ? (LEVEL_BY_NUMBER[rawLevel] ?? String(rawLevel)) : String(rawLevel ?? 'info');
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : new Date(Number(entry.time ?? Date.now())).toISOString().slice(11, 23);
  const label = level.toUpperCase().padEnd(5);
  const head = colors ? `${DIM}${time}${RESET} ${COLOUR[level] ?? ''}${label}${RESET}` : `${time} ${label}`;
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  let out = `${head} ${String(entry.msg ?? '')}${fields.length ? `  ${colors ? DIM : ''}${fields.join(' ')}${colors ? RESET : ''}` : ''}\n`;
  const err = entry.err as { stack?: unknown; message?: unknown; code?: unknown } | undefined;
  if (err && typeof err === 'object') {
    const text = typeof err.stack === 'string' ? err.stack : String(err.message ?? '');
    const code = err.code === undefined ? '' : ` [${String(err.code)}]`;
    out += text.split('\n').map((l, i) => `    ${l}${i === 0 ? code : ''}`).join('\n') + '\n';
  }
  return out;
}
