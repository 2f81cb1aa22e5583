/**
 * The metrics server off loopback: a warning at start, and on any address,
 * requests naming a host it does not know (DNS rebinding) are refused.
 */
import { request } from 'node:http';
import { hostname } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workdir } from './helpers/workdir.js';
import { startCli } from './helpers/cli-process.js';

function get(port: number, host: string, path = '/metrics/files'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // setHost false: the Host header is the one given, as a rebinding browser would send it.
    const req = request({ host: '127.0.0.1', port, path, setHost: false, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics server exposure', () => {
  it('--metrics-host 0.0.0.0: one warning at start; Host names outside the allow-list get 403, known ones and IPs 200', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":1}\n');
    const p = startCli(['run', '--no-checkpoint', '--workers', '1', '--input', input, '--metrics-host', '0.0.0.0', '--metrics-port', '0', '--metrics-allowed-hosts', 'metrics.example.org', '--log-level', 'info']);
    await p.waitFor(/"url":"http:\/\/0\.0\.0\.0:(\d+)"/, 'stderr');
    await p.waitFor('{"id":1}\n');
    const port = Number(/"url":"http:\/\/0\.0\.0\.0:(\d+)"/.exec(p.stderr())![1]);
    expect(p.stderr().match(/metrics server listens on 0\.0\.0\.0 \(every interface\), not loopback/g)).toHaveLength(1);

    const evil = await get(port, `rebind.attacker.example:${port}`);
    expect(evil.status).toBe(403);
    expect(evil.body).toContain('ORDERTAIL_HTTP_HOST_NOT_ALLOWED');
    expect(evil.body).not.toContain(input);
    for (const ok of [`localhost:${port}`, `127.0.0.1:${port}`, `${hostname()}:${port}`, `metrics.example.org:${port}`, `[::1]:${port}`]) {
      const r = await get(port, ok);
      expect(r.status, ok).toBe(200);
    }
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
  });

  it('loopback (the default): no warning, and a rebinding Host is still refused', async () => {
    const dir = workdir();
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '{"id":1}\n');
    const p = startCli(['run', '--no-checkpoint', '--workers', '1', '--input', input, '--metrics-port', '0', '--log-level', 'info']);
    await p.waitFor(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/, 'stderr');
    const port = Number(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(p.stderr())![1]);
    expect((await get(port, `attacker.example:${port}`, '/')).status).toBe(403);
    expect((await get(port, `localhost:${port}`, '/healthz')).status).toBe(200);
    expect(p.stderr()).not.toContain('not loopback');
    p.child.kill('SIGTERM');
    expect(await p.exit(10_000)).toBe(0);
  });
});
