/**
 * README's test command on a fresh machine (issue 11, item 16): `npm test` first checks for the Debian
 * packages of scripts/test-packages.txt — the one list .ci/run installs from — and, when some are
 * missing, prints the one apt-get line that installs them and stops. Oracle: dpkg's own database
 * (`dpkg -s`) for which packages are installed; apt-cache for which exist.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const checker = path.join(repo, 'scripts', 'check-test-packages.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-prereq-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const installed = (p: string): boolean => /^Status: install ok installed$/m.test(spawnSync('dpkg', ['-s', p], { encoding: 'utf8' }).stdout);
const exists = (p: string): boolean => /^Package: /m.test(spawnSync('apt-cache', ['show', p], { encoding: 'utf8' }).stdout);
const check = (list?: string): { status: number | null; stdout: string; stderr: string } =>
  spawnSync('node', [checker, ...(list ? [list] : [])], { encoding: 'utf8' });

describe('npm test checks the system packages first', () => {
  it('package.json runs the checker as pretest, and .ci/run installs from the same list', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('node scripts/check-test-packages.mjs');
    expect(fs.readFileSync(path.join(repo, '.ci', 'run'), 'utf8')).toContain('scripts/test-packages.txt');
  });

  it('on this machine (every listed package installed, as dpkg -s says) it passes silently', () => {
    const listed = fs.readFileSync(path.join(repo, 'scripts', 'test-packages.txt'), 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    expect(listed.filter((p) => !installed(p))).toEqual([]);
    const r = check();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toBe('');
  });

  it('missing packages: exit 1 and one apt-get line naming exactly those, in the list order', () => {
    const absent = ['hello', 'cowsay', 'sl', 'fortune-mod', 'figlet'].filter((p) => !installed(p) && exists(p)).slice(0, 2);
    expect(absent.length, 'two real Debian packages not installed here').toBe(2);
    const unknown = 'elfcopy-no-such-package';
    const list = path.join(tmp, 'list.txt');
    fs.writeFileSync(list, `# a comment\ncoreutils\n${absent[0]}\n\n${absent[1]}   # trailing comment\n${unknown}\n`);
    const r = check(list);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`apt-get update && apt-get install -y --no-install-recommends ${absent[0]} ${absent[1]} ${unknown}\n`);
    expect(r.stderr).toMatch(/3 Debian package\(s\) the tests use are not installed/);
  });
});
