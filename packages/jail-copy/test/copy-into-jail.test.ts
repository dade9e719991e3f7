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
import { ELFCOPY, requireRoot, snapshot, tempDir } from './helpers/jail.js';

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

  it('a copy by the built CLI loads no fs/promises (nor the readline it pulls in: ~3 ms of every run), with or without --checksum', () => {
    requireRoot();
    const j = path.join(tmp, 'modules');
    // Node's own list of the built-in modules this process loaded, written as it exits.
    const preload = path.join(tmp, 'loaded.cjs');
    const out = path.join(tmp, 'loaded.txt');
    fs.writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
    for (const extra of [[], ['--checksum']]) {
      fs.rmSync(out, { force: true });
      const r = spawnSync('node', ['--require', preload, ELFCOPY, '/usr/bin/ls', '--into', j, '--quiet', ...extra], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const loaded = fs.readFileSync(out, 'utf8').split('\n');
      // The list is read, not assumed: the copy's own modules are in it.
      expect(loaded, extra.join(' ')).toContain('NativeModule worker_threads');
      expect(loaded.filter((m) => /^NativeModule (fs\/promises|internal\/fs\/promises|readline)$/.test(m)), extra.join(' ')).toEqual([]);
    }
    expect(spawnSync('chroot', [j, '/usr/bin/ls', '/']).status).toBe(0);
  });

  it("the bin bounds V8's young generation for a deps batch (a directory argument), never for a copy (--into)", () => {
    requireRoot();
    // Every V8 flag the bin sets, recorded as it sets it.
    const preload = path.join(tmp, 'v8-flags.cjs');
    const out = path.join(tmp, 'v8-flags.txt');
    fs.writeFileSync(preload, `const v8 = require('node:v8'); const set = v8.setFlagsFromString; v8.setFlagsFromString = (f) => { require('node:fs').appendFileSync(${JSON.stringify(out)}, f + '\\n'); return set(f); };\n`);
    const flags = (args: string[]): string[] => {
      fs.rmSync(out, { force: true });
      const r = spawnSync('node', ['--require', preload, ELFCOPY, ...args], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n') : [];
    };
    const dir = fs.mkdtempSync(path.join(tmp, 'v8-dir-'));
    fs.copyFileSync('/usr/bin/true', path.join(dir, 'true'));
    // (A batch also raises the tier-up budget: cli/test/batch-tiering.test.ts checks that one.)
    expect(flags(['deps', '--list', dir])).toContain('--semi-space-growth-factor=1');
    expect(flags([dir, '--into', path.join(tmp, 'v8-jail'), '--quiet'])).toEqual([]);
    expect(flags([dir, `--into=${path.join(tmp, 'v8-jail2')}`, '--quiet'])).toEqual([]);
  });
});
