/**
 * Which implementation inserts into the dedup table on the main thread: the
 * addon's batch insert (native/src/dedup.rs, one call per range) when it loads,
 * else DedupTable.insertAt per record. Both follow the same protocol on the
 * same shared memory, so the choice changes speed, never decisions.
 */
import { ConfigError } from '../config/errors.js';
import { loadNativeAddon } from '../parser/native.js';
import type { NativeDedup } from './table.js';

export type DedupImplChoice = 'auto' | 'js' | 'native';

function hasBatchInsert(addon: object): addon is NativeDedup {
  return typeof (addon as Partial<NativeDedup>).dedupSlots === 'function';
}

/** 'auto' falls back to js with the reason; an explicit 'native' that cannot load is a ConfigError (exit 2). */
export function resolveDedupImpl(choice: DedupImplChoice): { name: 'js' | 'native'; native?: NativeDedup; fallbackReason?: string } {
  if (choice === 'js') return { name: 'js' };
  const loaded = loadNativeAddon();
  if (!('error' in loaded) && hasBatchInsert(loaded.addon)) return { name: 'native', native: loaded.addon };
  const reason = 'error' in loaded
    ? loaded.error.message
    : 'the loaded addon has no dedupSlots (built before batch dedup; run npm install to rebuild it)';
  if (choice === 'native') throw new ConfigError(`--dedup-impl native: ${reason}`, 'dedupImpl');
  return { name: 'js', fallbackReason: reason };
}
