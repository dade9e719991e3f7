/**
 * Everything that writes is a plan step (issue 15): --ldcache's /etc/ld.so.cache is the plan's
 * `ldcache` step — a dry run prints it and writes nothing, the run records it in the manifest as a
 * file elfcopy made (no host source), and verify --against-host knows that from the manifest.
 * The cache's content is checked against ldconfig in jail-tools.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_PATH, parseManifest } from '../src/index.js';
import { tempDir } from './helpers/jail.js';
import { cli } from './helpers/jail-tools.js';

const tmp = tempDir('ldcache-step');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--ldcache as a plan step', () => {
  it('a dry run prints the ldcache step (JSON too) and writes nothing', async () => {
    const j = path.join(tmp, 'dry');
    const text = await cli(['/usr/bin/true', '--into', j, '--with', 'none', '--ldcache', '--dry-run']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ldcache \/etc\/ld\.so\.cache \(\d+ libraries\)\s+# the jail's own ld\.so\.cache/m);
    const json = await cli(['/usr/bin/true', '--into', j, '--with', 'none', '--ldcache', '--dry-run', '--json']);
    const plan = JSON.parse(json.stdout) as { steps: { op: string; path: string; libraries?: string[] }[] };
    const step = plan.steps.find((s) => s.op === 'ldcache');
    expect(step?.path).toBe('/etc/ld.so.cache');
    expect(step?.libraries).toContain(plan.steps.find((s) => s.op === 'copy' && /\/libc\.so\.6$/.test(s.path))?.path);
    // The last step: it reads the jail once every library is in place.
    expect(plan.steps.at(-1)?.op).toBe('ldcache');
    expect(fs.existsSync(j)).toBe(false);
  });

  it('the run writes it, the manifest records it with its hash and no source, and verify --against-host does not call it stale', async () => {
    const j = path.join(tmp, 'run');
    const r = await cli(['/usr/bin/true', '--into', j, '--with', 'none', '--ldcache', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { written: string[] }).written).toContain('/etc/ld.so.cache');
    const bytes = fs.readFileSync(path.join(j, 'etc/ld.so.cache'));
    const entry = parseManifest(fs.readFileSync(path.join(j, MANIFEST_PATH), 'utf8'))?.entries.find((e) => e.path === '/etc/ld.so.cache');
    expect(entry).toMatchObject({ kind: 'file', size: bytes.length });
    expect(entry?.source).toBeUndefined();
    const sha = spawnSync('sha256sum', [path.join(j, 'etc/ld.so.cache')], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(entry?.sha256).toBe(sha);
    const v = await cli(['verify', j, '--against-host', '--json']);
    const findings = (JSON.parse(v.stdout) as { findings: { rule: string; path: string }[] }).findings;
    expect(findings.filter((f) => f.path === '/etc/ld.so.cache')).toEqual([]);
  });
});
