/**
 * The ack window's bookkeeping, with a stand-in for the connection so that
 * acks arrive exactly when the test says (a real server acks too fast to
 * catch these moments): a flush waits for what was published before it and
 * not for later records, room is given back at half the window, a record
 * refused by JetStream or never acked is sent again with the same Msg-Id,
 * and a duplicate ack is counted. The sink against a real server is in the
 * other nats-*.test.ts files.
 */
import { describe, expect, it } from 'vitest';
import { AckWindow } from '../dist/src/sinks/nats/ack-window.js';
import { NatsSinkMetrics } from '../dist/src/sinks/nats/metrics.js';

interface Sent {
  reply: string;
  id: string;
}

function setup(capacity = 4, ackTimeoutMs = 100) {
  const sent: Sent[] = [];
  let deliver: ((err: Error | null, m: unknown) => void) | undefined;
  const nc = {
    subscribe: (_subject: string, opts: { callback: (err: Error | null, m: unknown) => void }) => {
      deliver = opts.callback;
      return {};
    },
    publish: (_subject: string, _data: Uint8Array, opts: { reply: string; headers: Map<string, string> }) => {
      sent.push({ reply: opts.reply, id: opts.headers.get('Nats-Msg-Id')! });
    },
  };
  const metrics = new NatsSinkMetrics();
  const errors: string[] = [];
  const window = new AckWindow(nc as never, 'orders', capacity, ackTimeoutMs, (() => new Map<string, string>()) as never, '_INBOX.test', metrics, {
    connected: () => true,
    jetStreamError: (d) => errors.push(d),
    swept: () => {},
  });
  const ack = (reply: string, body: string): void => {
    const data = Buffer.from(body);
    deliver!(null, { subject: reply, data, headers: undefined, string: () => body });
  };
  return { window, sent, ack, metrics, errors };
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('NATS ack window', () => {
  it('a flush waits for the records published before it, not for those published after', async () => {
    const { window, sent, ack } = setup(16, 10_000);
    for (const id of ['a', 'b', 'c']) window.publish(Buffer.from(id), id);
    let flushed = false;
    void window.whenPublishedAcked().then(() => (flushed = true));
    for (const id of ['d', 'e']) window.publish(Buffer.from(id), id);
    ack(sent[1]!.reply, '{"stream":"S","seq":2}');
    ack(sent[0]!.reply, '{"stream":"S","seq":1}');
    await tick();
    expect(flushed).toBe(false);
    ack(sent[2]!.reply, '{"stream":"S","seq":3}');
    await tick();
    expect(flushed).toBe(true);
    expect(window.inFlight).toBe(2);
    window.close();
  });

  it('room comes back at half the window; duplicates are counted', async () => {
    const { window, sent, ack, metrics } = setup(4, 10_000);
    for (const id of ['a', 'b', 'c', 'd']) window.publish(Buffer.from(id), id);
    expect(window.full).toBe(true);
    let room = false;
    void window.whenRoom().then(() => (room = true));
    ack(sent[0]!.reply, '{"stream":"S","seq":1}');
    await tick();
    expect(room).toBe(false);
    ack(sent[1]!.reply, '{"stream":"S","seq":2,"duplicate":true}');
    await tick();
    expect(room).toBe(true);
    expect(metrics.stats()).toMatchObject({ published: 4, acked: 2, duplicates: 1 });
    window.close();
  });

  it('a JetStream error or a missing ack: sent again with the same Msg-Id until acked', async () => {
    const { window, sent, ack, metrics, errors } = setup(4, 100);
    window.publish(Buffer.from('x'), 'kid.1');
    window.publish(Buffer.from('y'), 'kid.2');
    ack(sent[0]!.reply, '{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}');
    expect(errors).toEqual(['JetStream system temporarily unavailable (err_code 10008)']);
    // The first is resent after its backoff, the second after the ack timeout.
    while (sent.length < 4) await tick(20);
    expect(sent.map((s) => s.id).sort()).toEqual(['kid.1', 'kid.1', 'kid.2', 'kid.2']);
    for (const s of sent.slice(2)) ack(s.reply, '{"stream":"S","seq":9}');
    // A late ack of the first send of an entry already acked changes nothing.
    ack(sent[1]!.reply, '{"stream":"S","seq":9,"duplicate":true}');
    await tick();
    expect(window.inFlight).toBe(0);
    expect(metrics.stats()).toMatchObject({ published: 2, acked: 2, retries: 2, duplicates: 0 });
    window.close();
  });

  it('aborted: every wait fails', async () => {
    const { window } = setup(2, 10_000);
    window.publish(Buffer.from('a'), 'a');
    window.publish(Buffer.from('b'), 'b');
    const waits = [window.whenRoom(), window.whenPublishedAcked()];
    window.abort(new Error('closed for good'));
    for (const w of waits) await expect(w).rejects.toThrow('closed for good');
    await expect(window.whenPublishedAcked()).rejects.toThrow('closed for good');
    window.close();
  });
});
