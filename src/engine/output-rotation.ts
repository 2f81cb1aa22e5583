/*
 * A follower's output files rotated outside ordertail (logrotate, a person),
 * looked at every second and at each checkpoint. The sink: a file moved away
 * (logrotate's `create`) is named where it now is by the checkpoints, and a
 * new file at the configured path takes the records from a checkpoint
 * boundary on, as at a reload's sink switch, so a restart at any moment finds
 * each record in one of the two once; a file truncated in place
 * (`copytruncate`) is written on from its new length, which the next
 * checkpoint commits. The dead-letter file: rejects go to a new file at once
 * (not at a checkpoint boundary: killed before the next checkpoint, a restart
 * writes the rejects since the last one again into the new file, while the
 * moved one is cut back: at-least-once for dead letters around a rotation).
 */
import type { DeadLetterFile } from '../sinks/dead-letter.js';
import type { FileSink } from '../sinks/file-sink.js';
import type { Sink } from '../sinks/sink.js';

export interface RotationHost {
  /** The file sink when a switch can replace it (follow mode, no switch pending), read at each look. */
  readonly fileSink: FileSink | undefined;
  readonly deadLetter: DeadLetterFile | undefined;
  /** Not running: nothing is looked at. */
  readonly idle: boolean;
  /** A new file sink at the configured path (throws when it cannot be opened). */
  openReplacement(): { sink: Sink; fileSink: FileSink | undefined };
  /** Put `next` in place of the sink once a checkpoint naming it has landed. */
  switchAtCheckpoint(next: { sink: Sink; fileSink: FileSink | undefined }): void;
  /** The sink's length was re-based: a checkpoint soon commits it. */
  lengthChanged(): void;
  /** An output now at `to`: an input glob matching it must not read it. */
  moved(to: string): void;
  info(message: string): void;
  /** `ORDERTAIL_SINK_FILE_DELETED`. */
  warn(message: string): void;
}

const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class OutputRotation {
  /** A rotation that could not be followed was warned about (until one is). */
  private warned = false;

  constructor(private readonly host: RotationHost) {}

  check(): void {
    if (this.host.idle) return;
    this.checkDeadLetter();
    this.checkSink();
  }

  private warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.host.warn(message);
  }

  private checkDeadLetter(): void {
    const deadLetter = this.host.deadLetter;
    if (!deadLetter) return;
    let rotated: ReturnType<DeadLetterFile['followRotation']>;
    try {
      rotated = deadLetter.followRotation();
    } catch (err) {
      this.warnOnce(`dead-letter file ${deadLetter.path} was moved or deleted, and a new one cannot be opened there (${why(err)}); rejects go on to the file it was`);
      return;
    }
    if (!rotated) return;
    this.host.info(rotated.message);
    rotated.closing?.catch((err: unknown) =>
      this.host.warn(`dead-letter file ${deadLetter.path}: closing the rotated one failed (${why(err)}); rejects written to it since the last checkpoint may not be on disk`),
    );
  }

  private checkSink(): void {
    const file = this.host.fileSink;
    if (!file) return;
    let change: ReturnType<FileSink['outsideChange']>;
    try {
      change = file.outsideChange();
    } catch (err) {
      this.warnOnce(`${file.name}: cannot tell whether it was rotated (${why(err)})`);
      return;
    }
    if (change === undefined) return;
    if (change.kind === 'truncated') {
      this.host.info(`${file.name} was truncated outside ordertail (copytruncate?) from ${change.from} to ${change.to} bytes; written on from there`);
      this.host.lengthChanged();
      return;
    }
    let next: ReturnType<RotationHost['openReplacement']>;
    try {
      next = this.host.openReplacement();
    } catch (err) {
      // Records go on into the moved file: nothing is lost; looked at again next time.
      this.warnOnce(`${file.name} was moved or deleted, and a new one cannot be opened there (${why(err)}); records go on to the file it was`);
      return;
    }
    this.warned = false;
    if (change.to === undefined) {
      this.host.warn(`${file.name} was deleted while written (or moved where it cannot be named): what it held is gone with it; records go on to a new ${file.configuredPath} from the next checkpoint`);
    } else {
      file.relocated(change.to);
      this.host.moved(change.to);
      this.host.info(`${file.name} was moved to ${change.to} (rotated): records go on to a new ${file.configuredPath} from the next checkpoint`);
    }
    this.host.switchAtCheckpoint(next);
  }
}
