/**
 * Profiles (README, "Options"): `profile: development | production` gives
 * defaults for a kind of deployment in the engine's one config schema, as the
 * collector's profiles do; explicit keys win, `profiles.<name>` overrides a
 * profile, the collector section takes the engine's profile unless it names
 * its own, and a profile changed by a reload applies like the keys it sets.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveOptions } from '../dist/src/index.js';
import { startCli } from './helpers/cli-process.js';
import { saveConfig } from './helpers/config-file.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const COLLECTOR = { exchanges: ['binance'], symbols: ['BTC/USDT'] };

function configError(options: Record<string, unknown>): ConfigError {
  try {
    resolveOptions(options);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('resolveOptions accepted the options');
}

describe('profiles', () => {
  it('production is the documented defaults; development logs more, checkpoints every second and shadows every range', () => {
    const production = resolveOptions({ input: ['x'] });
    expect(production).toMatchObject({ profile: 'production', logLevel: 'info', checkpointIntervalMs: 5000, shadowSample: 0.1 });
    expect(resolveOptions({ input: ['x'], profile: 'production' })).toEqual(production);
    expect(resolveOptions({ input: ['x'], profile: 'development' })).toMatchObject({ profile: 'development', logLevel: 'debug', checkpointIntervalMs: 1000, shadowSample: 1 });
  });

  it('explicit keys win over the profile, profiles.<name> over its defaults, and only the chosen profile applies', () => {
    expect(resolveOptions({ input: ['x'], profile: 'development', 'log-level': 'warn' }).logLevel).toBe('warn');
    const tuned = { development: { checkpointInterval: '3s' }, production: { logLevel: 'error' } };
    expect(resolveOptions({ input: ['x'], profile: 'development', profiles: tuned })).toMatchObject({ checkpointIntervalMs: 3000, logLevel: 'debug' });
    expect(resolveOptions({ input: ['x'], profiles: tuned })).toMatchObject({ checkpointIntervalMs: 5000, logLevel: 'error' });
    expect(resolveOptions({ input: ['x'], profile: 'development', profiles: tuned, checkpointInterval: '7s' }).checkpointIntervalMs).toBe(7000);
  });

  it('the collector takes the engine profile unless its section names its own', () => {
    expect(resolveOptions({ input: ['x'], profile: 'development', collector: COLLECTOR }).collector!.profile).toBe('development');
    expect(resolveOptions({ input: ['x'], collector: COLLECTOR }).collector!.profile).toBe('production');
    expect(resolveOptions({ input: ['x'], profile: 'development', collector: { ...COLLECTOR, profile: 'production' } }).collector!.profile).toBe('production');
  });

  it('a bad profile, a bad override or an unknown key under profiles is a ConfigError naming it', () => {
    expect(configError({ input: ['x'], profile: 'staging' })).toMatchObject({ key: 'profile' });
    expect(configError({ input: ['x'], profiles: { staging: {} } })).toMatchObject({ key: 'profiles.staging' });
    expect(configError({ input: ['x'], profile: 'development', profiles: { development: { bogus: 1 } } })).toMatchObject({ key: 'profiles.development.bogus' });
    expect(configError({ input: ['x'], profile: 'development', profiles: { development: { checkpointInterval: 'soon' } } }).message).toContain('checkpointInterval');
  });

  it('CLI: --profile development logs per file at debug level; a bad name exits 2; a reload to production applies the keys it changes', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const out = join(dir, 'out.ndjson');
    writeFileSync(input, '{"id":"a","timestamp":1}\n');
    const bad = startCli(['run', '--input', input, '--profile', 'staging']);
    expect(await bad.exit(15_000)).toBe(2);
    expect(bad.stderr()).toContain('staging');
    const configPath = join(dir, 'ordertail.yaml');
    const save = (config: Record<string, unknown>): void => saveConfig(configPath, config);
    const config = { input: [input], sink: `file:${out}`, checkpoint: join(dir, 'cp'), workers: 1, profile: 'development' };
    save(config);
    const p = startCli(['run', '--config', configPath, '--no-metrics']);
    await p.waitFor(/ready: following/, 'stderr', 30_000);
    await until(() => readLines(out).length === 1, 20_000, 'the record');
    expect(p.stderr()).toMatch(/"level":"debug".*"msg":"file opened"/);
    save({ ...config, profile: 'production' });
    await p.waitFor(/"reload":"applied"/, 'stderr', 20_000);
    const line = p.stderr().split('\n').find((l) => l.includes('"reload":"applied"'))!;
    expect((JSON.parse(line) as { applied: string[] }).applied.sort()).toEqual(['checkpointInterval', 'logLevel', 'shadowSample']);
    p.child.kill('SIGTERM');
    expect(await p.exit(15_000), p.stderr()).toBe(0);
  }, 60_000);
});
