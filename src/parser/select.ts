import type { ChunkParser, ParseConfig } from './contract.js';

export type ParserChoice = 'auto' | 'js' | 'native' | 'simdjson';

export interface SelectedParser {
  parser: ChunkParser;
  /** Why a requested parser was not used (auto falling back to js). */
  fallbackReason?: string;
}

/**
 * Create the parser a worker will use. Implementations are imported lazily so
 * a missing optional one (addon not built) never breaks loading the others.
 */
export async function createParser(choice: string, config: ParseConfig): Promise<SelectedParser> {
  switch (choice) {
    case 'js':
    case 'auto': {
      const { createJsParser } = await import('./js-parser.js');
      return { parser: createJsParser(config) };
    }
    default:
      throw new TypeError(`unknown parser '${choice}' (expected auto, js, native or simdjson)`);
  }
}
