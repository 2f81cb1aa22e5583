/** The exchange collector: `new Collector(resolveCollectorConfig(raw), { write })`. */
export { Collector, type CollectorEventMap, type CollectorOptions, type CollectorStats, type ExchangeStats } from './collector.js';
export { resolveCollectorConfig, credentialsFromEnv, type CollectorConfig, type ExchangeSpec } from './config.js';
export { PROFILE_DEFAULTS, PROFILE_NAMES, type ProfileName } from './profiles.js';
export { CHANGE_FIELDS, type RecordType } from './records.js';
export type { BreakerState } from './breaker.js';
export type { BreakerChange, CycleOutcome, CycleReport, Operation, OperationFailure } from './poller.js';
export { METRIC_PREFIX } from './metrics.js';
export { CollectorAbortedError, CollectorSinkError, CollectorStoppedError } from './errors.js';
