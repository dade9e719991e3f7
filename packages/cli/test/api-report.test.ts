/**
 * The packages' public surfaces are locked (scripts/api-report.mjs, api-extractor): the surface the
 * build exports must be the one in packages/NAME/api/*.api.md. A change is made on purpose with
 * `npm run api:update`, and shows in review as a diff of those reports.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../scripts/api-report.mjs', import.meta.url));

describe('API reports', () => {
  it('every entry point of elf-deps, jail-copy and the cli exports what its checked-in report says', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).not.toContain('differs');
    expect(r.status).toBe(0);
  }, 150_000);
});
