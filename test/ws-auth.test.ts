/**
 * Access: a bearer token is required whenever the endpoint is not on
 * loopback (from a file or the environment; header or subprotocol), browsers'
 * origins are checked, and refusals are counted while the engine carries on.
 * Non-loopback binds are 0.0.0.0; every connection still goes to 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broadcaster } from '../dist/src/broadcast/broadcaster.js';
import { Engine } from '../dist/src/index.js';
import { batch, connect, handshakeStatus, startBroadcaster } from './helpers/ws-client.js';
import { readLines, workdir } from './helpers/workdir.js';

const TOKEN = 'tok-3f9a.b7_c~d+e';
let broadcaster: Broadcaster | undefined;
let savedEnv: string | undefined;

beforeEach(() => {
  savedEnv = process.env.ORDERTAIL_WS_TOKEN;
  delete process.env.ORDERTAIL_WS_TOKEN;
});

afterEach(async () => {
  if (savedEnv === undefined) delete process.env.ORDERTAIL_WS_TOKEN;
  else process.env.ORDERTAIL_WS_TOKEN = savedEnv;
  await broadcaster?.close();
  broadcaster = undefined;
});

/** The endpoint's URL on loopback, whatever address it is bound to. */
const local = (b: Broadcaster): string => `ws://127.0.0.1:${b.port}/`;

describe('ws access', () => {
  it('refuses to start on a non-loopback address without a token', async () => {
    await expect(startBroadcaster({ host: '0.0.0.0' })).rejects.toMatchObject({ code: 'ORDERTAIL_CONFIG', key: 'wsHost' });
    await expect(startBroadcaster({ host: '0.0.0.0', token: { env: 'ORDERTAIL_TEST_NO_SUCH_VAR' } })).rejects.toMatchObject({ key: 'wsTokenEnv' });
    const dir = workdir();
    writeFileSync(join(dir, 'empty'), '\n');
    await expect(startBroadcaster({ host: '0.0.0.0', token: { file: join(dir, 'empty') } })).rejects.toMatchObject({ key: 'wsTokenFile' });
    await expect(startBroadcaster({ host: '0.0.0.0', token: { file: join(dir, 'missing') } })).rejects.toMatchObject({ key: 'wsTokenFile' });
  });

  it('with a token file on 0.0.0.0: no or a wrong token is refused (401), the right one in a header or subprotocol streams', async () => {
    const dir = workdir();
    writeFileSync(join(dir, 'token'), TOKEN + '\n');
    broadcaster = await startBroadcaster({ host: '0.0.0.0', token: { file: join(dir, 'token') } });
    expect(broadcaster.tokenRequired).toBe(true);
    const url = local(broadcaster);
    expect(await handshakeStatus(url)).toBe(401);
    expect(await handshakeStatus(url, { headers: { authorization: 'Bearer wrong' } })).toBe(401);
    expect(await handshakeStatus(url, { headers: { authorization: `Bearer ${TOKEN}x` } })).toBe(401);
    expect(await handshakeStatus(url, { protocols: ['ordertail.v1', 'bearer.nope'] })).toBe(401);
    const byHeader = await connect(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const byProtocol = await connect(url, { protocols: ['ordertail.v1', `bearer.${TOKEN}`] });
    expect(byProtocol.ws.protocol).toBe('ordertail.v1');
    broadcaster.offer([batch([{ id: 1, symbol: 'BTC/USDT' }])]);
    await byHeader.until(() => byHeader.records.length === 1);
    await byProtocol.until(() => byProtocol.records.length === 1);
    const stats = await broadcaster.refresh();
    expect(stats.refused.token).toBe(4);
    expect(stats.clients).toBe(2);
    byHeader.close();
    byProtocol.close();
  });

  it('takes the token from the environment, and asks for it on loopback too when one is set', async () => {
    process.env.ORDERTAIL_TEST_WS_TOKEN = TOKEN;
    try {
      broadcaster = await startBroadcaster({ token: { env: 'ORDERTAIL_TEST_WS_TOKEN' } });
    } finally {
      delete process.env.ORDERTAIL_TEST_WS_TOKEN;
    }
    expect(await handshakeStatus(broadcaster.url)).toBe(401);
    expect(await handshakeStatus(broadcaster.url, { headers: { authorization: `Bearer ${TOKEN}` } })).toBe(101);
  });

  it('origins: by default pages from this machine only; a configured list replaces that; counted when refused', async () => {
    broadcaster = await startBroadcaster();
    const url = broadcaster.url;
    expect(await handshakeStatus(url, { origin: 'http://127.0.0.1:9464' })).toBe(101);
    expect(await handshakeStatus(url, { origin: 'http://localhost:3000' })).toBe(101);
    expect(await handshakeStatus(url, { origin: 'https://evil.example' })).toBe(403);
    expect(await handshakeStatus(url, { origin: 'http://127.0.0.1.evil.example' })).toBe(403);
    expect(await handshakeStatus(url)).toBe(101);
    expect((await broadcaster.refresh()).refused.origin).toBe(2);
    await broadcaster.close();
    broadcaster = await startBroadcaster({ allowedOrigins: ['https://dash.example.com'] });
    expect(await handshakeStatus(broadcaster.url, { origin: 'https://dash.example.com' })).toBe(101);
    expect(await handshakeStatus(broadcaster.url, { origin: 'http://127.0.0.1:9464' })).toBe(403);
    await broadcaster.close();
    broadcaster = await startBroadcaster({ allowedOrigins: ['*'] });
    expect(await handshakeStatus(broadcaster.url, { origin: 'https://anything.example' })).toBe(101);
  });

  it('refuses more clients than wsMaxClients (503) and paths other than /', async () => {
    broadcaster = await startBroadcaster({ maxClients: 1 });
    const first = await connect(broadcaster.url);
    expect(await handshakeStatus(broadcaster.url)).toBe(503);
    expect(await handshakeStatus(broadcaster.url.replace(/\/$/, '/other'))).toBe(404);
    const stats = await broadcaster.refresh();
    expect(stats.refused).toMatchObject({ capacity: 1, path: 1 });
    first.close();
  });

  it('engine: a non-loopback wsHost without a token is a config error before anything is written; refusals leave the sink whole', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    const out = join(dir, 'out.ndjson');
    writeFileSync(input, Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: i, symbol: 'ETH/USDT' })).join('\n') + '\n');
    const refused = new Engine({ input, once: true, sink: `file:${out}`, wsPort: 0, wsHost: '0.0.0.0', workers: 1 });
    await expect(refused.start()).rejects.toMatchObject({ code: 'ORDERTAIL_CONFIG', key: 'wsHost' });
    expect(readLines(out)).toEqual([]);

    writeFileSync(join(dir, 'token'), TOKEN);
    const engine = new Engine({ input: join(dir, '*.ndjson'), sink: `file:${out}`, wsPort: 0, wsHost: '0.0.0.0', wsTokenFile: join(dir, 'token'), workers: 1 });
    await engine.start();
    try {
      const url = engine.wsUrl!.replace('0.0.0.0', '127.0.0.1');
      const bad = await Promise.all([handshakeStatus(url), handshakeStatus(url, { origin: 'https://evil.example', headers: { authorization: `Bearer ${TOKEN}` } })]);
      expect(bad).toEqual([401, 403]);
      await expect.poll(() => readLines(out).length, { timeout: 20_000 }).toBe(2000);
      const stats = await engine.wsStats();
      expect(stats).toMatchObject({ refused: { token: 1, origin: 1 }, recordsIn: 2000 });
      expect(engine.stats().recordsEmitted).toBe(2000);
    } finally {
      await engine.stop();
    }
  });
});
