/**
 * Two engines (two processes: two hosts' worth, on loopback) tail overlapping
 * order logs and publish to one stream at the same time. Each drops the
 * copies it sees itself; copies the other engine also publishes carry the
 * same Msg-Id (key hash and event time) and the stream's duplicate window
 * drops them. A durable consumer then reads every order exactly once,
 * including ids legitimately reused outside the dedup window (another event
 * time: another Msg-Id).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli-process.js';
import { multisetDiff, writeOrderLogs } from './helpers/order-logs.js';
import { workdir } from './helpers/workdir.js';
import { readDurable, requireNats, useTestNats } from './helpers/nats.js';

const nats = useTestNats();

describe('NATS sink: two engines, one stream', () => {
  it('overlapping logs published by two engines at once: a durable consumer reads every order exactly once', async (ctx) => {
    requireNats(ctx);
    const dir = workdir('ordertail-nats2-');
    const windowMs = 60_000;
    const logs = writeOrderLogs(dir, { seed: 18, files: 3, ordersPerFile: 6000, duplicateShare: 0.3, reuseShare: 0.02, windowMs, spanMs: 30_000 });
    const sink = nats.server.url('two.orders', 'stream=TWO');
    // Host A tails files 0 and 1, host B files 1 and 2: file 1 entirely, and the copies spread across all three, reach both.
    const engine = (inputs: string[], state: string) =>
      startCli(['run', ...inputs.flatMap((p) => ['--input', p]), '--once', '--sink', sink, '--checkpoint', join(dir, state), '--workers', '2', '--no-metrics', '--log-level', 'warn'], {});
    const a = engine([logs.paths[0]!, logs.paths[1]!], 'a');
    const b = engine([logs.paths[1]!, logs.paths[2]!], 'b');
    const [codeA, codeB] = await Promise.all([a.exit(60_000), b.exit(60_000)]);
    expect(codeA, a.stderr()).toBe(0);
    expect(codeB, b.stderr()).toBe(0);
    const read = await readDurable(nats.client, 'TWO', 'downstream');
    const lines = read.map((m) => m.data);
    const diff = multisetDiff(lines, logs.expected);
    expect(diff, `read ${lines.length}, expected ${logs.expected.length}`).toEqual({ missing: 0, extra: 0, sampleExtra: [] });
    expect(logs.duplicatesWritten).toBeGreaterThan(1000);
    // Every Msg-Id once in the stream: the copies were dropped by the server, not by luck.
    expect(new Set(read.map((m) => m.msgId)).size).toBe(read.length);
  }, 120_000);
});
