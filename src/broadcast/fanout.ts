/*
 * From a sink batch to the clients: split into records, number them, keep
 * them for resumes, and queue each client's share. Entries are built once per
 * distinct set of kept fields, not once per client.
 */
import { MAX_FRAME_CHARS, type Client, type Entry } from './client.js';
import { projectRecord, stringField, topLevelFields } from './record-fields.js';
import { recordEntry, RECORDS_PREFIX, RECORDS_SUFFIX } from './protocol.js';
import type { ReplayBuffer, StreamRecord } from './replay.js';
import { matches, type Subscription } from './subscription.js';

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

/** A frame encoded once for the in-step clients of one filter; null: nothing matched, or too large to share. */
interface SharedFrame {
  readonly frame: Buffer;
  readonly groups: number[];
  readonly records: number;
}

/**
 * Send each live client its matching records. Clients in step with the stream
 * (nothing queued) get one frame built and encoded once per filter; the others
 * queue entries (built once per set of kept fields) and send at their pace.
 */
export function fanOut(records: readonly StreamRecord[], clients: Iterable<Client>): void {
  if (records.length === 0) return;
  // fieldsKey → entries by record index, made on first use.
  const entries = new Map<string, (Entry | undefined)[]>();
  const entriesFor = (s: Subscription): (Entry | undefined)[] => {
    let built = entries.get(s.fieldsKey);
    if (!built) entries.set(s.fieldsKey, (built = new Array<Entry | undefined>(records.length)));
    return built;
  };
  const entry = (built: (Entry | undefined)[], i: number, s: Subscription): Entry => {
    const r = records[i]!;
    return (built[i] ??= { seq: r.seq, at: r.at, json: recordEntry(r.seq, r.at, s.fields ? projectRecord(r.text, s.fields) : r.text) });
  };
  // filterKey → the entries its filter selects, matched once for all its clients.
  const selected = new Map<string, Entry[]>();
  const selectedFor = (s: Subscription): Entry[] => {
    let list = selected.get(s.filterKey);
    if (list) return list;
    const built = entriesFor(s);
    list = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (matches(s, r.symbol, r.type)) list.push(entry(built, i, s));
    }
    selected.set(s.filterKey, list);
    return list;
  };
  const shared = new Map<string, SharedFrame | null>();
  for (const client of clients) {
    if (!client.live) {
      // Resuming: it reads these from the replay buffer.
      client.pump();
      continue;
    }
    const s = client.subscription;
    if (client.inStep) {
      let frame = shared.get(s.filterKey);
      if (frame === undefined) shared.set(s.filterKey, (frame = sharedFrame(selectedFor(s))));
      if (frame) {
        client.sendShared(frame.frame, frame.groups, frame.records);
        continue;
      }
    }
    for (const e of selectedFor(s)) {
      client.enqueue(e);
      if (!client.live) break;
    }
    client.pump();
  }
}

function sharedFrame(selected: readonly Entry[]): SharedFrame | null {
  const parts: string[] = [];
  const groups: number[] = [];
  let chars = 0;
  for (const e of selected) {
    chars += e.json.length + 1;
    // Larger than one frame may be: those clients take the queued path, which splits it.
    if (chars > MAX_FRAME_CHARS) return null;
    parts.push(e.json);
    const n = groups.length;
    if (n > 0 && groups[n - 2] === e.at) groups[n - 1]!++;
    else groups.push(e.at, 1);
  }
  if (parts.length === 0) return null;
  return { frame: Buffer.from(RECORDS_PREFIX + parts.join(',') + RECORDS_SUFFIX), groups, records: parts.length };
}
