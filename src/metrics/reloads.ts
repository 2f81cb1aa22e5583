/**
 * Config reloads counted for metrics (`ordertail_config_reloads_total`,
 * `ordertail_config_last_reload_success_timestamp_seconds`) and stats().
 */

/** Config reloads since start-up (Engine.reload). */
export interface ConfigReloadStats {
  /** Reloads applied (including those that changed nothing). */
  applied: number;
  /** Reloads refused: invalid, or changing a setting that cannot change at run time. */
  rejected: number;
  /** When the configuration in force was loaded: start-up, or the last applied reload (epoch ms). */
  lastAppliedAtMs: number;
}

export class ReloadCounts {
  private readonly counts: ConfigReloadStats;

  constructor(startedAtMs: number) {
    this.counts = { applied: 0, rejected: 0, lastAppliedAtMs: startedAtMs };
  }

  applied(): void {
    this.counts.applied++;
    this.counts.lastAppliedAtMs = Date.now();
  }

  rejected(): void {
    this.counts.rejected++;
  }

  stats(): ConfigReloadStats {
    return { ...this.counts };
  }
}
