/**
 * The packages are publishable: `npm pack` of each gives a tarball that installs into an empty
 * directory, where the libraries import and the command runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-pack-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('npm pack', () => {
  it('each package packs, installs into an empty directory, imports and runs', () => {
    const tarballs: string[] = [];
    for (const ws of ['packages/elf-deps', 'packages/jail-copy', 'packages/cli']) {
      const out = execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: path.join(repo, ws), encoding: 'utf8' });
      const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
      expect(info).toBeDefined();
      const files = info!.files.map((f) => f.path);
      expect(files.some((f) => f.endsWith('.d.ts')) || ws === 'packages/cli').toBe(true);
      expect(files.some((f) => f.includes('/test/') || f.endsWith('.test.ts'))).toBe(false);
      tarballs.push(path.join(tmp, info!.filename));
    }
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
    const inst = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], { cwd: app, encoding: 'utf8', timeout: 180_000 });
    expect(inst.status, inst.stderr).toBe(0);
    fs.writeFileSync(
      path.join(app, 'use.mjs'),
      `import { readElf, resolveClosure } from '@elfcopy/elf-deps';
import { planCopy, loadProfiles } from '@elfcopy/jail-copy';
const info = readElf('/usr/bin/ls');
const g = resolveClosure(['/usr/bin/ls']);
const plan = planCopy(['/usr/bin/ls'], '/nonexistent-jail', { nss: false });
console.log(info.interpreter, g.roots[0].objects.length > 2, plan.steps.length > 3, loadProfiles().has('php'));
`,
    );
    const use = spawnSync('node', ['use.mjs'], { cwd: app, encoding: 'utf8' });
    expect(use.stderr).toBe('');
    expect(use.stdout.trim()).toBe('/lib64/ld-linux-x86-64.so.2 true true true');
    const help = spawnSync('npx', ['--no-install', 'elfcopy', '--help'], { cwd: app, encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/Usage: elfcopy/);
    const deps = spawnSync('npx', ['--no-install', 'elfcopy', 'deps', '--list', '/usr/bin/true'], { cwd: app, encoding: 'utf8' });
    expect(deps.status, deps.stderr).toBe(0);
    expect(deps.stdout).toContain('/usr/bin/true\n');
  }, 240_000);
});
