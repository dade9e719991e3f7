/**
 * copyIntoJail is the whole `elfcopy copy` run for an npm user (issue 15): the jail it makes runs the
 * program under chroot (the oracle), a dry run touches nothing, and a second run over an unchanged host
 * and jail reuses the plan and changes nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyIntoJail } from '../src/index.js';
import { requireRoot, snapshot, tempDir } from './helpers/jail.js';

const tmp = tempDir('copy-into-jail');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('copyIntoJail', () => {
  it('a dry run returns the plan and makes no jail', async () => {
    const j = path.join(tmp, 'dry');
    const r = await copyIntoJail(['/usr/bin/true'], j, { dryRun: true });
    expect(r.outcome).toBe('dry-run');
    expect(r.applied).toBeUndefined();
    expect(r.plan.steps.some((s) => s.op === 'copy' && s.path === '/usr/bin/true')).toBe(true);
    expect(fs.existsSync(j)).toBe(false);
  });

  it('makes a jail chroot runs the program in; the same call again reuses the plan and writes nothing', async () => {
    requireRoot();
    const j = path.join(tmp, 'run');
    const planned: string[] = [];
    const first = await copyIntoJail(['/usr/bin/true', '/usr/bin/ls'], j, { planCache: { build: 'test' } }, { onPlan: (p) => planned.push(p.planReused ? 'reused' : 'fresh') });
    expect(first.outcome).toBe('applied');
    expect(first.plan.missing).toEqual([]);
    expect(first.applied?.copied).toContain('/usr/bin/ls');
    expect(spawnSync('chroot', [j, '/usr/bin/ls', '/usr/bin'], { encoding: 'utf8' }).stdout.split('\n')).toEqual(expect.arrayContaining(['ls', 'true']));
    expect(spawnSync('chroot', [j, '/usr/bin/true']).status).toBe(0);
    const before = snapshot(j);
    const second = await copyIntoJail(['/usr/bin/true', '/usr/bin/ls'], j, { planCache: { build: 'test' } }, { onPlan: (p) => planned.push(p.planReused ? 'reused' : 'fresh') });
    expect(second.outcome).toBe('reused');
    expect(second.applied?.copied).toEqual([]);
    expect(planned).toEqual(['fresh', 'reused']);
    expect(snapshot(j)).toEqual(before);
  });
});
