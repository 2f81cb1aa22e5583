/**
 * docs/api.md is the API reference generated from the typings and their TSDoc
 * (scripts/api-report.mjs): it must be what the current code generates, so a
 * change to an exported signature or its documentation comes with the
 * regenerated reference (`npm run api:report`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { apiReport } from '../scripts/api-report.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('API reference', () => {
  it('docs/api.md is up to date with the exported typings (run `npm run api:report` after changing them)', () => {
    const generated = (apiReport as () => string)();
    expect(generated).toContain('## Engine');
    expect(readFileSync(join(root, 'docs', 'api.md'), 'utf8')).toBe(generated);
  }, 30_000);
});
