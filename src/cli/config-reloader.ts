/*
 * The CLI's side of a config hot reload: on SIGHUP or a change of the
 * `--config` file, read the file again, merge the command line's flags over
 * it (cli/program.ts, as at start-up), hand the result to Engine.reload, and
 * say what happened in one log line. The engine validates and applies, or
 * refuses the whole reload; the CLI adds the one thing the engine does not
 * own, its metrics server.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';
import type { EngineOptions } from '../config/options.js';
import type { ReloadResult } from '../engine/reload-apply.js';
import type { Logger, LogLevel } from '../metrics/logger.js';
import type { RunCommand } from './program.js';

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

  constructor(
    private readonly engine: Reloadable,
    private readonly file: string,
    private readonly read: () => RunOptions,
    /** The metrics server as started (the CLI runs it; it is not reloadable). */
    private readonly metrics: RunCommand['metrics'],
    private readonly logger: Logger,
  ) {
    this.lastText = this.text();
  }

  /** Reload now. Never throws: the outcome is one log line (and the engine's reload counters). */
  request(trigger: Trigger): void {
    if (this.closed) return;
    const text = this.text();
    // Editors touch a file without changing it, and one save can notify twice.
    if (trigger === 'config file change' && text !== undefined && text === this.lastText) return;
    this.lastText = text;
    let result: ReloadResult;
    try {
      result = this.engine.reload(() => this.options());
    } catch (err) {
      const key = err instanceof ConfigError ? err.key : undefined;
      const message = err instanceof Error ? err.message : String(err);
      this.logger.warn({ reload: 'rejected', trigger, key }, `config reload (${trigger}) rejected: ${message}; the configuration in force is unchanged`);
      return;
    }
    const what = result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : 'nothing changed';
    const files = result.filesAdded.length + result.filesReleased.length > 0 ? ` (${result.filesAdded.length} file(s) added, ${result.filesReleased.length} no longer followed)` : '';
    this.logger.info(
      { reload: 'applied', trigger, applied: result.applied, filesAdded: result.filesAdded, filesReleased: result.filesReleased, pauseMs: Math.round(result.pauseMs * 1000) / 1000 },
      `config reloaded (${trigger}): ${what}${files}`,
    );
    // The engine logs through this logger (the CLI's): its level is ours to set, after the line above.
    if (result.applied.includes('logLevel')) this.logger.level = this.engine.options.logLevel;
  }

  /** No reloads from now on (the run is stopping). */
  close(): void {
    this.closed = true;
  }

  private options(): EngineOptions {
    const next = this.read();
    const before = this.metrics;
    const after = next.metrics;
    // The metrics server belongs to the CLI, not the engine: refused here, by the same rule.
    for (const [key, a, b] of [
      ['metricsPort', before?.port, after?.port],
      ['metricsHost', before?.host, after?.host],
      ['metricsAllowedHosts', before?.allowedHosts.join(','), after?.allowedHosts.join(',')],
    ] as const) {
      if (a !== b) throw new ConfigError(`\`${key}\` cannot change at run time; restart to apply`, key);
    }
    return next.engineOptions;
  }

  private text(): string | undefined {
    try {
      return readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
  }
}
