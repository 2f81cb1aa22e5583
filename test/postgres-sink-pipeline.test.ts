/**
 * PostgreSQL sink, two commits under way at once (connections=2): batch N+1
 * is written while N's transaction is open, and lands only after N, and only
 * if N landed. Driven on BatchWriter directly, with N held at its offsets
 * step by a lock a third session holds on the offsets row, so that the
 * order of events is fixed rather than left to timing.
 */
import { describe, expect, it } from 'vitest';
import { parsePostgresSink } from '../dist/src/config/postgres-sink.js';
import { BatchWriter } from '../dist/src/sinks/postgres/batch-writer.js';
import { RowBatch, RowEncoder } from '../dist/src/sinks/postgres/rows.js';
import { ensureTables } from '../dist/src/sinks/postgres/schema.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const base = Date.parse('2026-12-03T18:00:00Z');
const encoder = new RowEncoder({ dedupKey: ['id'], eventTimeField: 'timestamp', maxRecordBytes: 1 << 20 });

function batch(from: number, to: number): RowBatch {
  const rows = new RowBatch();
  const lines = Array.from({ length: to - from }, (_, k) => JSON.stringify({ id: `o${from + k}`, symbol: 'BTCUSDT', timestamp: base + from + k }));
  encoder.encode(Buffer.from(`${lines.join('\n')}\n`), rows, Date.now());
  return rows;
}

/** Resolves once `n` sessions are waiting for a lock (so the next step can rely on where they stand). */
async function lockWaiters(n: number): Promise<{ pid: number; query: string }[]> {
  for (;;) {
    const rows = await pg.server.query<{ pid: number; query: string }>(`SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
    if (rows.length >= n) return rows;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function setup(table: string): Promise<{ writer: BatchWriter; ids: () => Promise<number[]>; generation: () => Promise<number> }> {
  const config = parsePostgresSink(pg.server.url(`table=${table}&columns=id&consumer=${table}`));
  const admin = await pg.server.client();
  const layout = await ensureTables(admin, config);
  await admin.end();
  const writer = new BatchWriter(config, layout.qualified);
  return {
    writer,
    ids: async () => (await pg.server.query<{ n: number }>(`SELECT substr(id, 2)::int AS n FROM ${table} ORDER BY 1`)).map((r) => r.n),
    generation: async () => Number((await pg.server.query<{ g: string }>('SELECT generation AS g FROM ordertail_offsets WHERE consumer = $1', [table]))[0]?.g ?? 0),
  };
}

describe('PostgreSQL sink: overlapping commits', () => {
  it('N+1 waits for N and lands after it; if N rolls back, N+1 rolls back too (behind) and lands once N is retried', async (ctx) => {
    requirePostgres(ctx);
    const { writer, ids, generation } = await setup('pipe');
    const [a, b, holder] = [await pg.server.client(), await pg.server.client(), await pg.server.client()];
    // Its backend is terminated below: the client reports that as an 'error' event too.
    a.on('error', () => {});
    try {
      // Generation 1 alone creates the offsets row.
      const noop = { previous: undefined, started: () => {} };
      expect(await writer.commit(a, batch(0, 10), 'pipe', 1, [], noop)).toMatchObject({ inserted: 10 });

      // Generation 2 is held at its offsets step; 3 writes its rows meanwhile and waits for 2.
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM ordertail_offsets WHERE consumer = 'pipe' FOR UPDATE`);
      let started2!: () => void;
      const started = new Promise<void>((r) => (started2 = r));
      // Settled into a value at once: it fails while the test is waiting for something else, and must not count as unhandled.
      const second = writer.commit(a, batch(10, 20), 'pipe', 2, [], { previous: undefined, started: started2 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      const third = writer.commit(b, batch(20, 30), 'pipe', 3, [], { previous: started, started: () => {} });
      // Both are now waiting: 2 for the holder's row lock, 3 (its rows written) for 2's transaction.
      const waiters = await lockWaiters(2);
      expect(waiters.map((w) => w.query).join('\n')).toMatch(/pg_advisory_xact_lock/);
      expect(await ids()).toEqual(Array.from({ length: 10 }, (_, i) => i));
      // 2 fails (its connection is cut): 3 must not land on top of generation 1.
      const secondPid = waiters.find((w) => /ordertail_offsets/.test(w.query))!.pid;
      await pg.server.query('SELECT pg_terminate_backend($1)', [secondPid]);
      expect(await second).toBeInstanceOf(Error);
      await holder.query('ROLLBACK');
      expect(await third).toBe('behind');
      expect(await ids()).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect(await generation()).toBe(1);

      // Retried in order (as the sink does): 2, then 3 after it, overlapping again.
      const a2 = await pg.server.client();
      let startedAgain!: () => void;
      const startedRetry = new Promise<void>((r) => (startedAgain = r));
      const retry2 = writer.commit(a2, batch(10, 20), 'pipe', 2, [], { previous: undefined, started: startedAgain });
      const retry3 = writer.commit(b, batch(20, 30), 'pipe', 3, [], { previous: startedRetry, started: () => {} });
      expect(await retry2).toMatchObject({ inserted: 10 });
      expect(await retry3).toMatchObject({ inserted: 10 });
      expect(await ids()).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(await generation()).toBe(3);
      await a2.end();
    } finally {
      await Promise.all([a, b, holder].map((c) => c.end().catch(() => {})));
    }
  });

  it('the same key in N and N+1 (a deadlock the database sees, not a hang): one of them is aborted, the other lands', async (ctx) => {
    requirePostgres(ctx);
    const { writer, ids } = await setup('knot');
    const [a, b] = [await pg.server.client(), await pg.server.client()];
    try {
      const noop = { previous: undefined, started: () => {} };
      expect(await writer.commit(a, batch(0, 1), 'knot', 1, [], noop)).toMatchObject({ inserted: 1 });
      // Both batches hold o100..o5099, one in the other's reverse order.
      let startedN!: () => void;
      const started = new Promise<void>((r) => (startedN = r));
      const n = writer.commit(a, batch(100, 5100), 'knot', 2, [], { previous: undefined, started: startedN });
      const n1 = writer.commit(b, reversed(100, 5100), 'knot', 3, [], { previous: started, started: () => {} });
      const results = await Promise.allSettled([n, n1]);
      // Either both landed (no overlap happened) or the database broke the cycle (40P01) and the other landed.
      const failures = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { code?: string });
      for (const f of failures) expect(f.code).toBe('40P01');
      expect(new Set(await ids()).size).toBe((await ids()).length);
    } finally {
      await Promise.all([a, b].map((c) => c.end().catch(() => {})));
    }
  }, 30_000);
});

/** The same records as batch(from, to), newest first: a cycle with batch(from, to) if both insert at once. */
function reversed(from: number, to: number): RowBatch {
  const rows = new RowBatch();
  const lines = Array.from({ length: to - from }, (_, k) => JSON.stringify({ id: `o${to - 1 - k}`, symbol: 'BTCUSDT', timestamp: base + to - 1 - k }));
  encoder.encode(Buffer.from(`${lines.join('\n')}\n`), rows, Date.now());
  return rows;
}
