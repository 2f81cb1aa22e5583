#!/usr/bin/env node
/**
 * Crash stress for exactly-once delivery: writers append to several logs (one rotated by
 * rename+create mid-run) while `ordertail run --checkpoint` is SIGKILLed at random moments
 * and restarted, many times; then a final --once run catches up and the sink is checked:
 * every record exactly once. Same harness as test/crash-recovery.test.ts.
 *
 *   npm run stress                       # build, then 50 kills keyed + 50 kills unkeyed
 *   node scripts/stress.mjs --kills 200 --mode unkeyed --seed 42
 *
 * Options: --kills N (50) --mode keyed|unkeyed|both (both) --logs N (3) --rate LINES/S (3000)
 *   --min-delay MS (200) --max-delay MS (1500) --interval DURATION (100ms) --workers N (2)
 *   --seed N (random) --no-rotate --glob-rotated (the rotated name also matches --input)
 *   --rotate-while-down (rotate right after a kill, ~40% in, instead of on the writer's timer)
 *   --keep (keep work dirs) --sabotage (delete the checkpoint before the final run: must FAIL)
 *   --quiet
 * Exits 0 when every run passed, 1 on any loss/duplicate/failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeResult, killAll, runCrashScenario } from '../test/helpers/crash-harness.mjs';

const { values: o } = parseArgs({
  options: {
    kills: { type: 'string', default: '50' },
    mode: { type: 'string', default: 'both' },
    logs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '3000' },
    'min-delay': { type: 'string', default: '200' },
    'max-delay': { type: 'string', default: '1500' },
    interval: { type: 'string', default: '100ms' },
    workers: { type: 'string', default: '2' },
    seed: { type: 'string' },
    'no-rotate': { type: 'boolean', default: false },
    'glob-rotated': { type: 'boolean', default: false },
    'rotate-while-down': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    sabotage: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const kills = Number(o.kills);
const logs = Math.max(1, Number(o.logs));
const minDelayMs = Number(o['min-delay']);
const maxDelayMs = Number(o['max-delay']);
const baseSeed = o.seed !== undefined ? Number(o.seed) : Date.now() % 2 ** 31;
const modes = o.mode === 'both' ? [true, false] : o.mode === 'keyed' ? [true] : o.mode === 'unkeyed' ? [false] : null;
if (!modes || !Number.isFinite(kills) || kills < 0) {
  console.error('usage: node scripts/stress.mjs [--kills N] [--mode keyed|unkeyed|both] [--logs N] [--seed N] ...');
  process.exit(2);
}
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});

// Rotate the last log about 40% into the crash loop (estimated from the kill delays).
const rotateAtMs = Math.round(kills * ((minDelayMs + maxDelayMs) / 2 + 150) * 0.4);
const streams = Array.from({ length: logs }, (_, i) => ({
  name: `s${i}`,
  file: `${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ''}.log`,
  ...(i === logs - 1 && !o['no-rotate'] && kills > 0 ? { rotateAtMs: o['rotate-while-down'] ? 1e12 : rotateAtMs } : {}),
}));

const totals = { runs: 0, failed: 0, kills: 0, expected: 0, missing: 0, duplicateLines: 0, other: 0, ms: 0 };
for (const [i, keyed] of modes.entries()) {
  const seed = baseSeed + i;
  const dir = mkdtempSync(join(tmpdir(), 'ordertail-stress-'));
  const input = [join(dir, '*.log'), ...(o['glob-rotated'] ? [join(dir, '*.log.1')] : [])];
  const label = keyed ? 'keyed' : 'unkeyed';
  const rotation = !streams.some((s) => s.rotateAtMs) ? '' : o['rotate-while-down'] ? `, ${streams.at(-1).file} rotated while the engine is down` : `, ${streams.at(-1).file} rotated at ~${rotateAtMs} ms`;
  console.log(`stress ${label}: ${kills} kills, ${logs} logs${rotation}, seed ${seed}, dir ${dir}`);
  const t0 = Date.now();
  let r;
  try {
    r = await runCrashScenario({
      dir,
      keyed,
      kills,
      seed,
      streams,
      input,
      rate: Number(o.rate),
      minDelayMs,
      maxDelayMs,
      interval: o.interval,
      workers: Number(o.workers),
      rotateAfterKill: o['rotate-while-down'] ? Math.max(1, Math.round(kills * 0.4)) : undefined,
      log: (m) => {
        if (o.quiet) return;
        if (m.startsWith('rotated')) return console.log(`  ${m}`);
        const n = Number(/^kill (\d+)/.exec(m)?.[1] ?? 0);
        if (n % 10 === 0 || n === kills) console.log(`  ${m} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      },
      beforeFinal: o.sabotage ? ({ checkpoint }) => rmSync(checkpoint, { recursive: true, force: true }) : undefined,
    });
  } catch (err) {
    console.log(`stress ${label}: ERROR ${err instanceof Error ? err.stack : String(err)}`);
    console.log(`  work dir kept: ${dir}`);
    killAll();
    totals.runs++;
    totals.failed++;
    totals.other++;
    continue;
  }
  totals.runs++;
  totals.kills += r.kills;
  totals.expected += r.report.expected;
  totals.missing += r.report.missing;
  totals.duplicateLines += r.report.duplicateLines;
  totals.other += r.report.unexpected + r.report.garbage + r.report.altered + r.deadLetterCount + (r.final.code === 0 ? 0 : 1);
  totals.ms += r.totalMs;
  if (!r.ok) totals.failed++;
  console.log(describeResult(r).replace(/^/gm, '  '));
  const rot = r.writer.streams.filter((s) => s.rotations > 0).map((s) => `${s.name} rotated ${s.rotations}x`);
  console.log(
    `  ${label}: ${r.ok ? 'PASS' : 'FAIL'} in ${(r.totalMs / 1000).toFixed(1)} s; kills while output grew ${r.killsWhileWriting}/${r.kills}, ` +
      `with uncommitted sink bytes ${r.killsWithUncommitted}/${r.kills}${rot.length ? `; ${rot.join(', ')}` : ''}`,
  );
  if (r.ok && !o.keep) rmSync(dir, { recursive: true, force: true });
  else console.log(`  work dir kept: ${dir}`);
}

const pass = totals.failed === 0;
console.log(
  `stress summary: ${totals.runs} runs, ${totals.kills} kills, ${totals.expected} records expected, ` +
    `${totals.missing} lost, ${totals.duplicateLines} duplicated, ${totals.other} other faults, ` +
    `${(totals.ms / 1000).toFixed(1)} s: ${pass ? 'PASS' : 'FAIL'}`,
);
process.exit(pass ? 0 : 1);
