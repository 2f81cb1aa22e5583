export { Engine, type EngineStats, type EngineEventMap, type RejectedRecord } from './engine/engine.js';
export type { EngineOptions, ResolvedOptions, SinkSpec } from './config/options.js';
export { resolveOptions } from './config/options.js';
export { ConfigError, EngineError } from './config/errors.js';
export type { LatencySummary } from './metrics/latency.js';
