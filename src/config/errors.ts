// The error classes live in src/errors.ts (one base, one list of codes); kept
// here so the modules that validate options import them from their neighbour.
export { ConfigError, EngineError, type EngineErrorCode } from '../errors.js';
