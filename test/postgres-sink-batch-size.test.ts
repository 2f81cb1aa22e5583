/**
 * PostgreSQL sink, a replay's commits stay near `batch=`: once a batch is
 * full, the engine commits at the next range boundary instead of after every
 * range its parse threads have ready. One commit of a whole backlog would be
 * written by one connection while the other waits, and would leave the
 * database alone with it at the end of a --once run.
 *
 * Each COPY (or INSERT) into the table is counted by a statement trigger with
 * a transition table, so the test sees what each commit held. The trigger
 * also makes each commit slow, as a loaded database is: meanwhile the parse
 * threads fill every range buffer, and a pass finds them all ready.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { parsePostgresSink } from '../dist/src/config/postgres-sink.js';
import { ensureTables } from '../dist/src/sinks/postgres/schema.js';
import { workdir } from './helpers/workdir.js';
import { requirePostgres, useTestPostgres } from './helpers/postgres.js';

const pg = useTestPostgres();

const RECORDS = 300_000;
const BATCH_ROWS = 2_000;
const RANGE_BYTES = 2 * 1024 * 1024;
/** What a --once run hands the sink at a time (engine/outputs.ts ONCE_BATCH_BYTES). */
const STAGED_BYTES = 1 << 20;

describe('PostgreSQL sink: batch size of a replay', () => {
  it('commits a large log in batches of about batch=N rows, never the whole backlog at once', async (ctx) => {
    requirePostgres(ctx);
    const base = Date.parse('2026-12-04T09:00:00Z');
    const lines = Array.from({ length: RECORDS }, (_, i) => JSON.stringify({ id: `o${i}`, symbol: `S${i % 7}`, side: i % 2 ? 'buy' : 'sell', timestamp: base + i, note: 'é'.repeat(i % 5) }));
    const text = `${lines.join('\n')}\n`;
    const input = join(workdir(), 'orders.ndjson');
    writeFileSync(input, text);
    const url = pg.server.url(`table=sized&columns=id,symbol,side&batch=${BATCH_ROWS}`);
    const admin = await pg.server.client();
    await ensureTables(admin, parsePostgresSink(url));
    await admin.query('CREATE TABLE statement_rows (n bigint)');
    await admin.query(`CREATE FUNCTION count_statement_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO statement_rows SELECT count(*) FROM new_rows; PERFORM pg_sleep(0.05); RETURN NULL; END $$`);
    await admin.query('CREATE TRIGGER sized_rows AFTER INSERT ON sized REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_statement_rows()');
    await admin.end();

    const engine = new Engine({ input, once: true, workers: 2, rangeBytes: RANGE_BYTES, sink: url as `postgres://${string}` });
    await engine.start();
    await engine.finished();
    await engine.stop();

    const counts = (await pg.server.query<{ n: string }>('SELECT n FROM statement_rows')).map((r) => Number(r.n)).filter((n) => n > 0);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(RECORDS);
    expect((await pg.server.query<{ n: string }>('SELECT count(DISTINCT id) AS n FROM sized'))[0]!.n).toBe(String(RECORDS));
    // Full at a write of the staged records, closed at the end of the range under way.
    const bytesPerRecord = text.length / RECORDS;
    const bound = BATCH_ROWS + Math.ceil((STAGED_BYTES + RANGE_BYTES) / bytesPerRecord);
    expect(Math.max(...counts)).toBeLessThanOrEqual(bound);
    expect(counts.length).toBeGreaterThanOrEqual(Math.floor(RECORDS / bound));
  });
});
