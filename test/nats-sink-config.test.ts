/**
 * NATS sink configuration: the stream it creates (the README's config), an
 * existing stream that cannot give exactly-once (exit 2 naming the setting,
 * the stream left as it was), bad URLs, credentials on the command line,
 * missing or refused credentials: a clear message and exit 2, nothing published.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type JetStreamManager } from '@nats-io/jetstream';
import { runCli, plainLines } from './helpers/cli-process.js';
import { workdir } from './helpers/workdir.js';
import { readStream, requireNats, TestNats, useTestNats } from './helpers/nats.js';
import { parseNatsSink } from '../dist/src/config/nats-sink.js';

const nats = useTestNats();

const NS = 1_000_000;
const orders = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `c${i}`, timestamp: 1_760_000_000_000 + i, side: 'buy' })).join('\n') + '\n';

function input(): string {
  const path = join(workdir(), 'orders.ndjson');
  writeFileSync(path, orders);
  return path;
}

const run = (sink: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  runCli(['run', '--input', input(), '--once', '--sink', sink, '--no-metrics', '--log-level', 'warn', ...extra], { env, timeoutMs: 30_000 });

describe('NATS sink: the stream it creates', () => {
  it('creates a missing stream with the documented config; the duplicate window covers the dedup window', async (ctx) => {
    requireNats(ctx);
    const r = await run(nats.server.url('cfg.created'), ['--dedup-window', '5m']);
    expect(r.code, r.stderr).toBe(0);
    const info = await nats.jsm.streams.info('ORDERTAIL_CFG_CREATED');
    expect(info.config).toMatchObject({ subjects: ['cfg.created'], storage: 'file', num_replicas: 1, retention: 'limits', discard: 'old', duplicate_window: 300_000 * NS, max_age: 0 });
    expect(info.state.messages).toBe(50);
    const ids = (await readStream(nats.client, 'ORDERTAIL_CFG_CREATED')).map((m) => m.msgId);
    // Keyed records: the 64-bit key hash in hex and the event time.
    expect(ids.every((id) => id !== undefined && /^k[0-9a-f]{16}\.\d+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(50);
  });

  it('defaults the duplicate window to 2 minutes when the dedup window is shorter, and the URL overrides it', async (ctx) => {
    requireNats(ctx);
    expect((await run(nats.server.url('cfg.short'))).code).toBe(0);
    expect((await nats.jsm.streams.info('ORDERTAIL_CFG_SHORT')).config.duplicate_window).toBe(120_000 * NS);
    const r = await run(nats.server.url('cfg.named', 'stream=NAMED&duplicate_window=10m&max_age=1d'));
    expect(r.code, r.stderr).toBe(0);
    expect((await nats.jsm.streams.info('NAMED')).config).toMatchObject({ duplicate_window: 600_000 * NS, max_age: 86_400_000 * NS, subjects: ['cfg.named'] });
  });
});

describe('NATS sink: an existing stream that does not fit', () => {
  const cases: { name: string; config: Record<string, unknown>; url: string; setting: RegExp }[] = [
    { name: 'a duplicate window shorter than the dedup window', config: { subjects: ['bad.dup'], duplicate_window: 10_000 * NS }, url: 'bad.dup', setting: /duplicate window of 10000 ms.*setting duplicate_window/ },
    { name: 'memory storage', config: { subjects: ['bad.mem'], storage: 'memory' }, url: 'bad.mem', setting: /memory storage.*setting storage/ },
    { name: 'a subject it does not take', config: { subjects: ['other.*'] }, url: 'bad.subject', setting: /takes subjects \[other\.\*\], not bad\.subject.*setting subjects/ },
    { name: 'other replicas than the URL asks for', config: { subjects: ['bad.replicas'] }, url: 'bad.replicas?replicas=3', setting: /1 replica\(s\), the URL asks for 3.*setting num_replicas/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2 naming the setting, the stream untouched`, async (ctx) => {
      requireNats(ctx);
      const name = `BAD_${c.url.split(/[.?]/)[1]!.toUpperCase()}`;
      await nats.jsm.streams.add({ name, storage: 'file', ...c.config } as Parameters<JetStreamManager['streams']['add']>[0]);
      const before = (await nats.jsm.streams.info(name)).config;
      const [subject, params] = c.url.split('?') as [string, string?];
      const r = await run(nats.server.url(subject, `stream=${name}${params ? `&${params}` : ''}`));
      expect(r.code, r.stderr).toBe(2);
      expect(plainLines(r.stderr).join('\n')).toMatch(c.setting);
      const after = await nats.jsm.streams.info(name);
      expect(after.config).toEqual(before);
      expect(after.state.messages).toBe(0);
    });
  }

  it('a subject another stream already takes: exit 2 naming subjects', async (ctx) => {
    requireNats(ctx);
    await nats.jsm.streams.add({ name: 'OWNER', subjects: ['owned.>'] });
    const r = await run(nats.server.url('owned.orders', 'stream=NOT_OWNER'));
    expect(r.code, r.stderr).toBe(2);
    expect(plainLines(r.stderr).join('\n')).toMatch(/another stream already takes subject owned\.orders/);
  });
});

describe('NATS sink: a record larger than the server takes', () => {
  it('is dead-lettered with the reason, the others are published, exit 0', async (ctx) => {
    requireNats(ctx);
    const dir = workdir();
    const path = join(dir, 'big.ndjson');
    const big = JSON.stringify({ id: 'big', timestamp: 1_760_000_000_000, pad: 'x'.repeat(1_200_000) });
    writeFileSync(path, `${orders}${big}\n`);
    const dead = join(dir, 'dead.ndjson');
    const r = await runCli(['run', '--input', path, '--once', '--sink', nats.server.url('cfg.big'), '--dead-letter', dead, '--no-metrics', '--log-level', 'warn'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((await nats.jsm.streams.info('ORDERTAIL_CFG_BIG')).state.messages).toBe(50);
    const letters = (await import('node:fs')).readFileSync(dead, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; error: string });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'too_large_for_nats' });
    expect(letters[0]!.error).toMatch(/max_payload 1048576/);
  });
});

describe('NATS sink: bad URLs and credentials', () => {
  const badUrls: [string, RegExp][] = [
    ['nats://127.0.0.1:4222/', /names no subject/],
    ['nats://127.0.0.1:99999/orders', /port 99999 is out of range/],
    ['nats://127.0.0.1:4222/orders.*', /not a subject to publish to/],
    ['nats://127.0.0.1:4222/orders?windw=10', /unknown URL parameter 'windw'/],
    ['nats://127.0.0.1:4222/orders?window=0', /window must be an integer from 1/],
    ['nats://alice:secret@127.0.0.1:4222/orders', /the URL holds credentials; put them in ORDERTAIL_NATS_TOKEN/],
    ['nats://127.0.0.1:4222,/orders', /names no server/],
    ['nats://127.0.0.1:4222/orders?tls_ca=/nonexistent/ca.pem', /tls_ca: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
    ['nats://127.0.0.1:4222/orders?duplicate_window=soon', /duplicate_window must be a duration/],
  ];
  for (const [url, message] of badUrls) {
    it(`${url}: exit 2, ${message.source}`, async () => {
      const r = await run(url);
      expect(r.code, r.stderr).toBe(2);
      expect(plainLines(r.stderr).join('\n')).toMatch(message);
    });
  }

  it('a credentials file that is not there, or a user without a password: exit 2 naming the variable', async () => {
    let r = await run('nats://127.0.0.1:4222/orders', [], { ORDERTAIL_NATS_CREDS: '/nonexistent/user.creds' });
    expect(r.code).toBe(2);
    expect(plainLines(r.stderr).join('\n')).toMatch(/ORDERTAIL_NATS_CREDS: cannot read \/nonexistent\/user\.creds/);
    r = await run('nats://127.0.0.1:4222/orders', [], { ORDERTAIL_NATS_USER: 'alice' });
    expect(r.code).toBe(2);
    expect(plainLines(r.stderr).join('\n')).toMatch(/ORDERTAIL_NATS_USER and ORDERTAIL_NATS_PASSWORD go together/);
  });

  it('a server that wants a token: refused without it or with a wrong one (exit 2), publishes with the right one from the environment', async (ctx) => {
    requireNats(ctx);
    const secured = await TestNats.start({ args: ['--auth', 'test-only-token'] });
    try {
      for (const env of [{}, { ORDERTAIL_NATS_TOKEN: 'wrong' }]) {
        const r = await run(secured.url('tok.orders'), [], env);
        expect(r.code, r.stderr).toBe(2);
        expect(plainLines(r.stderr).join('\n')).toMatch(/authori[sz]ation/i);
      }
      const ok = await run(secured.url('tok.orders'), [], { ORDERTAIL_NATS_TOKEN: 'test-only-token' });
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await secured.destroy();
    }
  });

  it('a server that wants a user and password: taken from the environment, a wrong password is exit 2', async (ctx) => {
    requireNats(ctx);
    const secured = await TestNats.start({ args: ['--user', 'alice', '--pass', 'test-only-pw'] });
    try {
      const bad = await run(secured.url('up.orders'), [], { ORDERTAIL_NATS_USER: 'alice', ORDERTAIL_NATS_PASSWORD: 'wrong' });
      expect(bad.code, bad.stderr).toBe(2);
      expect(plainLines(bad.stderr).join('\n')).toMatch(/authori[sz]ation/i);
      const ok = await run(secured.url('up.orders'), [], { ORDERTAIL_NATS_USER: 'alice', ORDERTAIL_NATS_PASSWORD: 'test-only-pw' });
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await secured.destroy();
    }
  });

  it('parses several servers, defaults the port and names the stream after the subject', () => {
    const c = parseNatsSink('nats://127.0.0.1:4222,127.0.0.2,[::1]:4223/orders.live?window=100', 'sink', {});
    expect(c.servers).toEqual(['127.0.0.1:4222', '127.0.0.2:4222', '[::1]:4223']);
    expect(c.subject).toBe('orders.live');
    expect(c.stream.name).toBe('ORDERTAIL_ORDERS_LIVE');
    expect(c.window).toBe(100);
    expect(c.auth).toEqual({ kind: 'none' });
    expect(c.tls).toBeUndefined();
    expect(parseNatsSink('tls://127.0.0.1:4222/o', 'sink', { ORDERTAIL_NATS_TOKEN: 't' })).toMatchObject({ tls: {}, auth: { kind: 'token' } });
    // The secret stays in the environment: resolved options never hold it.
    expect(JSON.stringify(parseNatsSink('nats://127.0.0.1/o', 'sink', { ORDERTAIL_NATS_USER: 'u', ORDERTAIL_NATS_PASSWORD: 'secret-pw' }))).not.toContain('secret-pw');
  });
});
