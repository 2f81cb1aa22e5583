// A directory of thousands of small files (a log per symbol and hour), read
// once and followed while a writer appends across hundreds of them: planning
// and emitting visit only the files with something to do (engine/pipeline.ts),
// and nothing may be skipped for it. Speed is bench/many-files.ts's; here,
// every order once.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { readLines, until, workdir } from './helpers/workdir.js';

const order = (id: string): string => `{"id":"${id}","timestamp":${Date.now()},"note":"заявка ${id} — 東京"}\n`;

const engines: Engine[] = [];
afterEach(async () => {
  while (engines.length) await engines.pop()!.stop();
});

function idsOnce(path: string): { ids: Set<string>; repeated: string[] } {
  const ids = new Set<string>();
  const repeated: string[] = [];
  for (const line of readLines(path)) {
    const id = (JSON.parse(line) as { id: string }).id;
    if (ids.has(id)) repeated.push(id);
    ids.add(id);
  }
  return { ids, repeated };
}

describe('a directory of thousands of files', () => {
  it('--once: 3,000 files with copies across them, every order once', async () => {
    const dir = workdir('ordertail-many-');
    const files = 3000;
    for (let f = 0; f < files; f++) {
      let text = '';
      for (let i = 0; i < 5; i++) text += order(`f${f}-${i}`);
      // A copy of an order of the previous file, far from its original.
      if (f > 0) text += order(`f${f - 1}-${f % 5}`);
      writeFileSync(join(dir, `orders-${String(f).padStart(5, '0')}.ndjson`), text);
    }
    const sink = join(dir, 'out.sink');
    const engine = new Engine({ input: join(dir, '*.ndjson'), sink: `file:${sink}`, once: true, workers: 2, dedupKey: 'id' });
    engines.push(engine);
    await engine.start();
    await engine.finished();
    const { ids, repeated } = idsOnce(sink);
    expect(repeated).toEqual([]);
    expect(ids.size).toBe(files * 5);
    expect(engine.stats().duplicates).toBe(files - 1);
  });

  it('following 400 files appended round-robin, some truncated and written again: every order once', async () => {
    const dir = workdir('ordertail-many-');
    const files = 400;
    const path = (f: number): string => join(dir, `live-${String(f).padStart(4, '0')}.ndjson`);
    for (let f = 0; f < files; f++) writeFileSync(path(f), order(`h${f}`));
    const sink = join(dir, 'out.sink');
    const engine = new Engine({ input: join(dir, '*.ndjson'), sink: `file:${sink}`, workers: 2, dedupKey: 'id' });
    engines.push(engine);
    await engine.start();
    await until(() => readLines(sink).length >= files, 15_000, 'the history of every file');
    // A writer in another process: 8,000 orders in appends of 4 across the files, as fast as it goes.
    const script = `const fs=require('fs');const files=${files};let seq=0;for(let k=0;k<2000;k++){let b='';for(let i=0;i<4;i++)b+='{"id":"w'+(seq++)+'","timestamp":'+Date.now()+',"note":"заявка"}\\n';fs.appendFileSync(${JSON.stringify(dir)}+'/live-'+String(k%(files-3)).padStart(4,'0')+'.ndjson',b);}`;
    const writer = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
    const writerExit = new Promise((r) => writer.once('exit', r));
    // Meanwhile three files the writer does not touch are truncated and written again (their earlier orders were read).
    await new Promise((r) => setTimeout(r, 50));
    for (const f of [files - 3, files - 2, files - 1]) {
      writeFileSync(path(f), '');
      await new Promise((r) => setTimeout(r, 100));
      appendFileSync(path(f), order(`t${f}`));
    }
    expect(await writerExit).toBe(0);
    const want = files + 8000 + 3;
    await until(() => readLines(sink).length >= want, 20_000, `${want} orders (have ${readLines(sink).length})`);
    await new Promise((r) => setTimeout(r, 300));
    const { ids, repeated } = idsOnce(sink);
    expect(repeated).toEqual([]);
    expect(ids.size).toBe(want);
    expect(readFileSync(sink, 'utf8').split('\n').length - 1).toBe(want);
  });
});
