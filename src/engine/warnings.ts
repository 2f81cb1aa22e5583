/**
 * Stable codes of the engine's `warning` events (listed in the README), so a
 * caller can match on what happened without parsing the message.
 */
export const WARNING_CODES = [
  'ORDERTAIL_INPUT_UNREADABLE',
  'ORDERTAIL_INPUT_IS_OUTPUT',
  'ORDERTAIL_INPUT_TRUNCATED',
  'ORDERTAIL_INPUT_REPLACED',
  'ORDERTAIL_INPUT_LOST',
  'ORDERTAIL_WATCH_UNAVAILABLE',
  'ORDERTAIL_NATIVE_UNAVAILABLE',
  'ORDERTAIL_SHADOW_MISMATCH',
  'ORDERTAIL_CHECKPOINT_RESET',
  'ORDERTAIL_CHECKPOINT_FILE_GONE',
  'ORDERTAIL_CHECKPOINT_FILE_MOVED',
  'ORDERTAIL_CHECKPOINT_OUTPUT_CHANGED',
  'ORDERTAIL_CHECKPOINT_CAPACITY_CHANGED',
  'ORDERTAIL_CHECKPOINT_FAILED',
  'ORDERTAIL_COLLECTOR',
  'ORDERTAIL_DEDUP_CAPPED',
  'ORDERTAIL_DEDUP_FORGETTING',
] as const;

export type WarningCode = (typeof WARNING_CODES)[number];

/** Receives a warning: its message and its code. */
export type WarningSink = (message: string, code: WarningCode) => void;
