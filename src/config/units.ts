/** Parsers for the human units used in flags and config files. */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** One number and its unit, read where the last one ended. */
const DURATION_PART = /\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)(?![a-z])/y;

/** "60s", "500ms", "1.5m", "2h", "1d", and sums of them as `1h30m` or `2m 30s` → milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let parts = 0;
  for (;;) {
    const at = DURATION_PART.lastIndex;
    const match = DURATION_PART.exec(text);
    if (!match) {
      if (parts === 0 || text.slice(at).trim() !== '') return undefined;
      break;
    }
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    parts++;
  }
  return Number.isFinite(total) ? total : undefined;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** "16MiB", "64KB", "1048576" → bytes (integer); undefined when malformed. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase();
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return undefined;
  const value = Math.floor(Number(match[1]) * factor);
  return Number.isSafeInteger(value) ? value : undefined;
}
