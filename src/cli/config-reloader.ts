/*
 * The CLI's side of a config hot reload: on SIGHUP or a change of the
 * `--config` file, read the file again, merge the command line's flags over
 * it (cli/program.ts, as at start-up), hand the result to Engine.reload, and
 * say what happened in one log line. The engine validates and applies, or
 * refuses the whole reload; the CLI adds the one thing the engine does not
 * own, its metrics server, which moves to a new port or host as part of the
 * reload: the new one is known to be free before anything applies, and the
 * old one closes only once the engine has taken the rest.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { ConfigError } from '../config/errors.js';
import type { EngineOptions } from '../config/options.js';
import type { ReloadResult } from '../engine/reload-apply.js';
import type { Logger, LogLevel } from '../metrics/logger.js';
import type { RunCommand } from './program.js';

type MetricsPlace = NonNullable<RunCommand['metrics']>;

/** The CLI's metrics server, as the reloader moves it (cli/main.ts keeps the one it closes at stop). */
export interface MetricsServerHolder {
  /** Close the one running, if any, and start one at `place` (undefined: none); rejects if it cannot listen there. */
  replace(place: MetricsPlace | undefined): Promise<void>;
}

/** Whether `port` on `host` can be listened on now (0: any port can). */
function canListen(host: string, port: number): Promise<Error | undefined> {
  if (port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err) => resolve(err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

type Trigger = 'SIGHUP' | 'config file change';
type RunOptions = Pick<RunCommand, 'engineOptions' | 'options' | 'metrics'>;

export interface Reloadable {
  reload(next: () => EngineOptions): ReloadResult;
  readonly options: { readonly logLevel: LogLevel };
}

export class ConfigReloader {
  /** The file's text at the last reload (or start): a change event that leaves it the same reloads nothing. */
  private lastText: string | undefined;
  private closed = false;
  /** Reloads run one after another (moving the metrics server waits for sockets). */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly engine: Reloadable,
    private readonly file: string,
    private readonly read: () => RunOptions,
    /** Where the metrics server listens now (the CLI runs it), and how to move it. */
    private metrics: RunCommand['metrics'],
    private readonly metricsServer: MetricsServerHolder,
    private readonly logger: Logger,
  ) {
    this.lastText = this.text();
  }

  /** Reload soon (after any reload under way). Never rejects: the outcome is one log line (and the engine's reload counters). */
  request(trigger: Trigger): Promise<void> {
    this.queue = this.queue.then(() => this.reload(trigger));
    return this.queue;
  }

  /** Refuse this reload: counted by the engine (as a reload whose options throw `err`), and logged. */
  private refuse(trigger: Trigger, err: unknown): void {
    try {
      this.engine.reload(() => {
        throw err;
      });
    } catch {
      // Counted.
    }
    this.rejected(trigger, err);
  }

  private rejected(trigger: Trigger, err: unknown): void {
    const key = err instanceof ConfigError ? err.key : undefined;
    const message = err instanceof Error ? err.message : String(err);
    this.logger.warn({ reload: 'rejected', trigger, key }, `config reload (${trigger}) rejected: ${message}; the configuration in force is unchanged`);
  }

  private async reload(trigger: Trigger): Promise<void> {
    if (this.closed) return;
    const text = this.text();
    // Editors touch a file without changing it, and one save can notify twice.
    if (trigger === 'config file change' && text !== undefined && text === this.lastText) return;
    this.lastText = text;
    let next: RunOptions;
    try {
      next = this.read();
    } catch (err) {
      // A file that cannot be read or is invalid.
      return this.refuse(trigger, err);
    }
    const movedKeys = this.metricsKeys(next.metrics);
    const moved = movedKeys.length > 0;
    // Not probed where the server is now (its own socket holds that): allowedHosts alone changed.
    if (moved && next.metrics && (next.metrics.port !== this.metrics?.port || next.metrics.host !== this.metrics?.host)) {
      const busy = await canListen(next.metrics.host, next.metrics.port);
      if (busy) {
        const why = `\`metricsPort\` ${next.metrics.host}:${next.metrics.port} cannot be listened on (${(busy as NodeJS.ErrnoException).code ?? busy.message}); the metrics server stays where it is`;
        return this.refuse(trigger, new ConfigError(why, 'metricsPort'));
      }
    }
    let result: ReloadResult;
    try {
      result = this.engine.reload(() => next.engineOptions);
    } catch (err) {
      return this.rejected(trigger, err);
    }
    if (moved) {
      try {
        await this.metricsServer.replace(next.metrics);
        this.metrics = next.metrics;
      } catch (err) {
        // Free a moment ago, taken since by another process: back where it was.
        this.logger.warn({ code: 'ORDERTAIL_METRICS_MOVE_FAILED' }, `metrics server could not move to ${next.metrics?.host}:${next.metrics?.port}: ${err instanceof Error ? err.message : String(err)}; it stays at ${this.metrics ? `${this.metrics.host}:${this.metrics.port}` : 'none'}`);
        await this.metricsServer.replace(this.metrics).catch((again: unknown) => {
          this.logger.warn({ code: 'ORDERTAIL_METRICS_MOVE_FAILED' }, `metrics server not running: ${again instanceof Error ? again.message : String(again)}`);
        });
      }
    }
    const applied = [...result.applied, ...movedKeys];
    const what = applied.length > 0 ? `applied ${applied.join(', ')}` : 'nothing changed';
    const files = result.filesAdded.length + result.filesReleased.length > 0 ? ` (${result.filesAdded.length} file(s) added, ${result.filesReleased.length} no longer followed)` : '';
    this.logger.info(
      { reload: 'applied', trigger, applied, filesAdded: result.filesAdded, filesReleased: result.filesReleased, pauseMs: Math.round(result.pauseMs * 1000) / 1000 },
      `config reloaded (${trigger}): ${what}${files}`,
    );
    // The engine logs through this logger (the CLI's): its level is ours to set, after the line above.
    if (result.applied.includes('logLevel')) this.logger.level = this.engine.options.logLevel;
  }

  /** No reloads from now on (the run is stopping). */
  close(): void {
    this.closed = true;
  }

  /** The metrics keys whose value `next` changes (the log line names them with the engine's). */
  private metricsKeys(next: MetricsPlace | undefined): string[] {
    const before = this.metrics;
    const keys: string[] = [];
    if (before?.port !== next?.port) keys.push('metricsPort');
    if (before?.host !== next?.host) keys.push('metricsHost');
    if (before?.allowedHosts.join(',') !== next?.allowedHosts.join(',')) keys.push('metricsAllowedHosts');
    return keys;
  }

  private text(): string | undefined {
    try {
      return readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
  }
}
