/**
 * Past one machine: two engines on two hosts (network namespaces, each joined
 * to a third by a veth pair) tail overlapping order logs and publish to one
 * stream on nats-server, which runs on that third host. Each engine reaches
 * the server only over its own link, at its own address. A durable consumer
 * then reads every order exactly once: the copies both hosts publish carry
 * the same Msg-Id, and the stream's duplicate window drops the second.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startCli } from './helpers/cli-process.js';
import { multisetDiff, writeOrderLogs } from './helpers/order-logs.js';
import { workdir } from './helpers/workdir.js';
import { NATS_MISSING, readDurable, requireNats, TestNats } from './helpers/nats.js';
import { NETNS_MISSING, requireNetns, TestHosts } from './helpers/netns.js';

let hosts: TestHosts | undefined;
let nats: TestNats | undefined;
let nc: NatsConnection | undefined;
/** The server's monitoring port, inside the hub's own network (nothing else listens there). */
const MONITOR_PORT = 8222;
beforeAll(async () => {
  if (NATS_MISSING || NETNS_MISSING) return;
  hosts = TestHosts.create(['a', 'b']);
  // On the hub, listening on every address it has: each host reaches it over its own link.
  nats = await TestNats.start({ via: hosts.hub.via, listen: '0.0.0.0', host: hosts.host('test').hubAddress, args: ['-m', String(MONITOR_PORT)] });
  nc = await nats.client();
});
afterAll(async () => {
  await nc?.close();
  await nats?.destroy();
  hosts?.destroy();
});

describe('NATS sink: engines on two hosts, one stream on a third', () => {
  it('overlapping logs published from two hosts: a durable consumer reads every order exactly once', async (ctx) => {
    requireNats(ctx);
    requireNetns(ctx);
    const dir = workdir('ordertail-nats-hosts-');
    const logs = writeOrderLogs(dir, { seed: 1818, files: 3, ordersPerFile: 5000, duplicateShare: 0.3, reuseShare: 0.02, windowMs: 60_000, spanMs: 30_000 });
    // Host A tails files 0 and 1, host B files 1 and 2.
    const engine = (host: 'a' | 'b', inputs: string[]) => {
      const h = hosts!.host(host);
      const sink = nats!.url('hosts.orders', 'stream=HOSTS', h.hubAddress);
      return startCli(['run', ...inputs.flatMap((p) => ['--input', p]), '--once', '--sink', sink, '--checkpoint', join(dir, host), '--workers', '2', '--no-metrics', '--log-level', 'warn'], { via: h.via });
    };
    const a = engine('a', [logs.paths[0]!, logs.paths[1]!]);
    const b = engine('b', [logs.paths[1]!, logs.paths[2]!]);
    const [codeA, codeB] = await Promise.all([a.exit(90_000), b.exit(90_000)]);
    expect(codeA, a.stderr()).toBe(0);
    expect(codeB, b.stderr()).toBe(0);
    // The server saw the two engines at their own addresses, not on loopback.
    const conns = (await (await fetch(`http://${hosts!.host('test').hubAddress}:${MONITOR_PORT}/connz?state=closed`)).json()) as { connections: { ip: string }[] };
    expect(new Set(conns.connections.map((c) => c.ip))).toEqual(new Set([hosts!.host('a').address, hosts!.host('b').address]));
    const read = await readDurable(nc!, 'HOSTS', 'downstream');
    const lines = read.map((m) => m.data);
    expect(multisetDiff(lines, logs.expected), `read ${lines.length}, expected ${logs.expected.length}`).toEqual({ missing: 0, extra: 0, sampleExtra: [] });
    expect(logs.duplicatesWritten).toBeGreaterThan(1000);
    expect(new Set(read.map((m) => m.msgId)).size).toBe(read.length);
  }, 150_000);
});
