/*
 * The engine's `profile`: defaults for a kind of deployment, the collector's
 * two (collector/profiles.ts) in one config schema. `production` is the
 * schema's own defaults; `development` logs per file and range, checkpoints
 * every second, and has a shadow parser (when one is set) check every range.
 * A config overrides either under `profiles.<name>`; keys at the top override
 * both. The collector section takes the same profile unless it names its own.
 */
import { PROFILE_NAMES, type ProfileName } from '../collector/profiles.js';
import { ConfigError } from './errors.js';

type Raw = Record<string, unknown>;

/** Raw values, in the units a config file uses. */
export const ENGINE_PROFILE_DEFAULTS: Readonly<Record<ProfileName, Readonly<Raw>>> = {
  production: {},
  development: { logLevel: 'debug', checkpointInterval: '1s', shadowSample: 1 },
};

const isMapping = (value: unknown): value is Raw => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * `raw` with its profile's values under the keys it does not set itself, and
 * its collector section told the profile. `knownKey` says whether a key (as
 * written, kebab-case too) is an option: one under `profiles.<name>` that is
 * not fails as `profiles.<name>.<key>`.
 */
export function withProfile(raw: Raw, origin: string, knownKey: (key: string) => boolean): Raw {
  const chosen = raw.profile ?? 'production';
  if (typeof chosen !== 'string' || !PROFILE_NAMES.includes(chosen as ProfileName)) {
    throw new ConfigError(`${origin}: profile: expected ${PROFILE_NAMES.join(' | ')}, got ${JSON.stringify(chosen)}`, 'profile');
  }
  const name = chosen as ProfileName;
  const overrides = raw.profiles;
  if (overrides !== undefined && !isMapping(overrides)) throw new ConfigError(`${origin}: profiles: expected a mapping of profile names to options`, 'profiles');
  for (const key of Object.keys(overrides ?? {})) {
    if (!PROFILE_NAMES.includes(key as ProfileName)) throw new ConfigError(`${origin}: profiles: unknown profile '${key}' (known: ${PROFILE_NAMES.join(', ')})`, `profiles.${key}`);
  }
  const own = overrides?.[name];
  if (own !== undefined && !isMapping(own)) throw new ConfigError(`${origin}: profiles.${name}: expected a mapping of options`, `profiles.${name}`);
  for (const key of Object.keys(own ?? {})) {
    if (!knownKey(key) || key === 'profile' || key === 'profiles') throw new ConfigError(`${origin}: profiles.${name}: unknown key '${key}'`, `profiles.${name}.${key}`);
  }
  const { profiles: _profiles, ...top } = raw;
  const merged: Raw = { ...ENGINE_PROFILE_DEFAULTS[name], ...own, ...top, profile: name };
  if (isMapping(merged.collector) && merged.collector.profile === undefined) merged.collector = { ...merged.collector, profile: name };
  return merged;
}
