/*
 * From a sink batch to the clients: split into records, number them, keep
 * them for resumes, and queue each client's share. Entries are built once per
 * distinct set of kept fields, not once per client.
 */
import type { Client, Entry } from './client.js';
import { projectRecord, stringField, topLevelFields } from './record-fields.js';
import { recordEntry } from './protocol.js';
import type { ReplayBuffer, StreamRecord } from './replay.js';
import { matches } from './subscription.js';

const NEWLINE = 0x0a;

/** The fields a filter matches on. */
export const SYMBOL_FIELD = 'symbol';
export const TYPE_FIELD = 'type';

/** A batch of newline-terminated records → records numbered after `replay.head`, added to it. */
export function ingest(batch: Uint8Array, at: number, replay: ReplayBuffer): StreamRecord[] {
  const buf = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  const out: StreamRecord[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(NEWLINE, start);
    if (end < 0) end = buf.length;
    if (end > start) {
      const text = buf.toString('utf8', start, end);
      const fields = topLevelFields(text);
      const record: StreamRecord = {
        seq: replay.head + 1,
        at,
        text,
        symbol: fields && stringField(text, fields, SYMBOL_FIELD),
        type: fields && stringField(text, fields, TYPE_FIELD),
      };
      replay.add(record);
      out.push(record);
    }
    start = end + 1;
  }
  return out;
}

/** Queue each live client's matching records, then let each send. */
export function fanOut(records: readonly StreamRecord[], clients: Iterable<Client>): void {
  if (records.length === 0) return;
  // fieldsKey → entries by record index, made on first use.
  const entries = new Map<string, (Entry | undefined)[]>();
  for (const client of clients) {
    if (!client.live) {
      // Resuming: it reads these from the replay buffer.
      client.pump();
      continue;
    }
    const s = client.subscription;
    let built = entries.get(s.fieldsKey);
    if (!built) entries.set(s.fieldsKey, (built = new Array<Entry | undefined>(records.length)));
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (!matches(s, r.symbol, r.type)) continue;
      const entry = (built[i] ??= { seq: r.seq, at: r.at, json: recordEntry(r.seq, r.at, s.fields ? projectRecord(r.text, s.fields) : r.text) });
      client.enqueue(entry);
      if (!client.live) break;
    }
    client.pump();
  }
}
