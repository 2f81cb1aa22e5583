import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { threadsForWork } from '../dist/src/pool/threads-for-work.js';
import { workdir } from './helpers/workdir.js';

const rangeBytes = 4096;

/** A one-line file and one of 2.5 ranges, in a fresh directory (removed after each test). */
function inputs(): { dir: string; small: string; large: string } {
  const dir = workdir();
  const small = join(dir, 'one.ndjson');
  writeFileSync(small, '{"id":"a"}\n');
  const large = join(dir, 'large.ndjson');
  writeFileSync(large, '{"id":"b"}\n'.repeat(Math.ceil((2.5 * rangeBytes) / 11)));
  return { dir, small, large };
}

describe('parse threads sized to the work', () => {
  it('--once over a one-line file starts one thread, whatever --workers says', () => {
    const { small } = inputs();
    expect(threadsForWork({ once: true, workers: 4, rangeBytes, input: [small] })).toBe(1);
  });

  it('--once gets a thread per range of its files, up to --workers', () => {
    const { small, large } = inputs();
    expect(threadsForWork({ once: true, workers: 8, rangeBytes, input: [large] })).toBe(3);
    expect(threadsForWork({ once: true, workers: 2, rangeBytes, input: [large, small] })).toBe(2);
  });

  it('a missing input is no work, and still one thread reads it (to report it)', () => {
    const { dir } = inputs();
    expect(threadsForWork({ once: true, workers: 4, rangeBytes, input: [join(dir, 'missing.ndjson')] })).toBe(1);
  });

  it('a glob may match anything: every thread', () => {
    const { dir } = inputs();
    expect(threadsForWork({ once: true, workers: 4, rangeBytes, input: [join(dir, '*.ndjson')] })).toBe(4);
  });

  it('follow mode keeps every thread for the live path', () => {
    const { small } = inputs();
    expect(threadsForWork({ once: false, workers: 4, rangeBytes, input: [small] })).toBe(4);
  });
});
