import type { ChunkParser, ParseConfig } from './contract.js';
import { createJsParser } from './js-parser.js';
import { loadNativeAddon, loadNativeParser } from './native.js';
import { createSimdjsonParser, loadSimdjson } from './simdjson-parser.js';
import { OrdertailError } from '../errors.js';

export type ParserChoice = 'auto' | 'js' | 'native' | 'simdjson';
export type ParserName = 'js' | 'native' | 'simdjson';

export class ParserUnavailableError extends OrdertailError {
  readonly code = 'ORDERTAIL_PARSER_UNAVAILABLE' as const;
  override readonly name = 'ParserUnavailableError';
}

/**
 * Decide, once on the main thread, which parser the workers run: 'auto' is the
 * native addon when it loads, else js (with the reason, for the start-up log).
 * An explicitly requested parser that cannot load is an error, not a fallback.
 */
export function resolveParser(choice: ParserChoice): { name: ParserName; fallbackReason?: string } {
  if (choice === 'js') return { name: 'js' };
  if (choice === 'simdjson') {
    const mod = loadSimdjson();
    if (mod instanceof Error) throw new ParserUnavailableError(`--parser simdjson: ${mod.message}`, { cause: mod });
    return { name: 'simdjson' };
  }
  const native = loadNativeAddon();
  if ('error' in native) {
    if (choice === 'native') throw new ParserUnavailableError(`--parser native: ${native.error.message}`, { cause: native.error });
    return { name: 'js', fallbackReason: native.error.message };
  }
  return { name: 'native' };
}

/** Create a resolved parser inside a worker. */
export function createParser(name: string, config: ParseConfig, opts: { markLfFollows?: boolean } = {}): ChunkParser {
  switch (name) {
    case 'js':
      return createJsParser(config);
    case 'simdjson':
      return createSimdjsonParser(config);
    case 'native': {
      const loaded = loadNativeParser(config, opts);
      if ('error' in loaded) throw loaded.error;
      return loaded.parser;
    }
    default:
      throw new TypeError(`unknown parser '${name}' (expected js, native or simdjson)`);
  }
}
