/**
 * NATS JetStream sink, exactly once across kill -9: a writer appends orders
 * (with repeated ids and lines split across writes) while the CLI publishing
 * to a real nats-server is SIGKILLed at random moments and restarted. A final
 * --once run catches up; the stream must then hold every order exactly once
 * (the first line of each id; every line when records have no key), and a
 * second --once run must add nothing. What a killed engine had published but
 * not checkpointed is published again on restart, under the same Msg-Id, and
 * the stream drops it as a duplicate.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedRecords, killAll, mulberry32, runEngine, spawnEngine, startWriter } from './helpers/crash-harness.mjs';
import { workdir } from './helpers/workdir.js';
import { readStream, requireNats, useTestNats } from './helpers/nats.js';
import { jetstreamManager } from '@nats-io/jetstream';

const nats = useTestNats();
afterEach(() => killAll());

const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function messages(stream: string): Promise<number> {
  try {
    return (await (await jetstreamManager(nats.client)).streams.info(stream)).state.messages;
  } catch {
    return 0;
  }
}

async function crashRun(keyed: boolean, kills: number, subject: string): Promise<void> {
  const dir = workdir('ordertail-natscrash-');
  const log = join(dir, 'orders.log');
  const stream = `CRASH_${subject.toUpperCase()}`;
  const args = ['run', '--input', log, '--sink', nats.server.url(subject, `stream=${stream}`), '--checkpoint', join(dir, 'checkpoint'), '--checkpoint-interval', '100ms', '--no-metrics', '--workers', '2', '--log-level', 'warn'];
  if (!keyed) args.push('--dedup-key', 'nosuchfield');
  const rand = mulberry32(seed + (keyed ? 0 : 1));
  const writer = await startWriter({ streams: [{ name: 's0', path: log }], rate: 3000, seed });
  const notes: string[] = [];
  try {
    for (let i = 0; i < kills; i++) {
      const before = await messages(stream);
      const e = spawnEngine(args);
      const t0 = Date.now();
      if (i % 2 === 1) {
        // Mid-stream: once this engine has published records of its own.
        while ((await messages(stream)) === before && Date.now() - t0 < 20_000 && e.child.exitCode === null) await sleep(10);
      }
      await Promise.race([e.exited, sleep(Math.round(i % 2 === 1 ? rand() * 500 : 200 + rand() * 1300))]);
      e.child.kill('SIGKILL');
      const { signal } = await e.exited;
      expect(signal, `cycle ${i + 1} ended by itself:\n${e.stderr()}`).toBe('SIGKILL');
      notes.push(`kill ${i + 1} after ${Date.now() - t0} ms: ${await messages(stream)} messages`);
    }
  } finally {
    await writer.stop();
  }
  const final = await runEngine([...args, '--once']);
  const why = `seed ${seed}\n${notes.join('\n')}\n${final.stderr}`;
  expect(final.code, why).toBe(0);
  const { expected, repeats } = expectedRecords([[log]], { keyed });
  if (keyed) expect(repeats, why).toBeGreaterThan(10);
  const got = new Map<string, number>();
  for (const m of await readStream(nats.client, stream)) {
    const r = JSON.parse(m.data) as { stream: string; seq: number };
    const k = `${r.stream}:${r.seq}`;
    got.set(k, (got.get(k) ?? 0) + 1);
  }
  const duplicated = [...got].filter(([, n]) => n > 1).map(([k]) => k);
  const unexpected = [...got.keys()].filter((k) => !expected.has(k));
  const missing = [...expected.keys()].filter((k) => !got.has(k));
  expect({ missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5), unexpected: unexpected.slice(0, 5) }, why).toEqual({ missing: [], duplicated: [], unexpected: [] });
  expect(got.size, why).toBe(expected.size);
  const again = await runEngine([...args, '--once']);
  expect(again.code, `${why}\n${again.stderr}`).toBe(0);
  expect(await messages(stream), why).toBe(expected.size);
}

describe('NATS sink: exactly once in the stream across kill -9', () => {
  it(`5 random SIGKILLs while a writer appends keyed orders: every order once in the stream (seed ${seed})`, async (ctx) => {
    requireNats(ctx);
    await crashRun(true, 5, 'crash_keyed');
  }, 120_000);

  it(`3 random SIGKILLs with records without a key: every line once, named by file identity and offset (seed ${seed})`, async (ctx) => {
    requireNats(ctx);
    await crashRun(false, 3, 'crash_unkeyed');
  }, 120_000);
});
