import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Engine, type EngineOptions, type EngineStats } from '../../dist/src/index.js';

const dirs: string[] = [];

/** A fresh temp dir, removed after the test. */
export function workdir(prefix = 'ordertail-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

export function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text.length === 0 ? [] : text.replace(/\n$/, '').split('\n');
}

export interface OnceResult {
  lines: string[];
  deadLetters: { file: string; offset: number; reason: string; sample: string }[];
  stats: EngineStats;
}

/** Run the engine with --once semantics into a file sink; return what came out. */
export async function runOnce(dir: string, options: Omit<EngineOptions, 'once' | 'sink' | 'deadLetter'>): Promise<OnceResult> {
  const sink = join(dir, `out-${Math.random().toString(36).slice(2)}.ndjson`);
  const dead = join(dir, `dead-${Math.random().toString(36).slice(2)}.ndjson`);
  const engine = new Engine({ workers: 2, ...options, once: true, sink: `file:${sink}`, deadLetter: dead });
  const errors: Error[] = [];
  engine.on('error', (e) => errors.push(e));
  await engine.start();
  await engine.finished();
  await engine.stop();
  if (errors.length) throw errors[0];
  return {
    lines: readLines(sink),
    deadLetters: readLines(dead).map((l) => JSON.parse(l) as OnceResult['deadLetters'][number]),
    stats: engine.stats(),
  };
}

/** Poll until `predicate` holds (for follow-mode tests that wait on the engine). */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
