/**
 * A directory input brings every entry that is an ELF file, links included: an entry that is a
 * symlink to an ELF file is an input of its own, so the jail gets the link and its target
 * (/usr/lib/git-core/git-upload-pack -> ../../bin/git). `deps --list` lists it as `copy` copies it.
 * Oracles: `chroot JAIL LINK` runs the program through the link; find(1) counts the host's entries.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy, gcc, requireRoot, tempDir } from './helpers/jail.js';

const tmp = tempDir('dir-links');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A program tree: bin/hello, and tools/ holding a file, relative and absolute links to it, a dangling link and a link to a directory. */
const tree = path.join(tmp, 'tree');
beforeAll(() => {
  requireRoot();
  fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'tools'), { recursive: true });
  gcc(path.join(tree, 'bin', 'hello'), '#include <stdio.h>\nint main(int c, char **v) { printf("hello from %s\\n", v[0]); return 0; }\n');
  fs.copyFileSync(path.join(tree, 'bin', 'hello'), path.join(tree, 'tools', 'own'));
  fs.chmodSync(path.join(tree, 'tools', 'own'), 0o755);
  fs.symlinkSync('../bin/hello', path.join(tree, 'tools', 'rel-link'));
  fs.symlinkSync(path.join(tree, 'bin', 'hello'), path.join(tree, 'tools', 'abs-link'));
  fs.symlinkSync('own', path.join(tree, 'tools', 'sibling-link'));
  fs.symlinkSync('nothere', path.join(tree, 'tools', 'dangling'));
  fs.symlinkSync('../bin', path.join(tree, 'tools', 'dir-link'));
  fs.writeFileSync(path.join(tree, 'tools', 'script'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
});

/** Entries of `dir` (not below its subdirectories) that are ELF files, followed through links: find -L DIR -maxdepth 1 -type f, magic checked. */
function elfEntries(dir: string): string[] {
  const out = execFileSync('find', ['-L', dir, '-maxdepth', '1', '-type', 'f'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return out.filter((f) => fs.readFileSync(f).subarray(0, 4).toString('latin1') === '\x7fELF').sort();
}

describe('a directory input brings its symlinked ELF entries', () => {
  it('copy: every link to an ELF file is reproduced with its target, and runs in the jail', async () => {
    const jail = path.join(tmp, 'jail');
    const r = await elfcopy([path.join(tree, 'tools'), '--into', jail, '--with', 'none', '-q']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const tools = path.join(tree, 'tools');
    for (const name of ['rel-link', 'abs-link', 'sibling-link']) {
      const inJail = path.join(jail, tools, name);
      expect(fs.lstatSync(inJail).isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(inJail)).toBe(fs.readlinkSync(path.join(tools, name)));
      const run = spawnSync('chroot', [jail, path.join(tools, name)], { encoding: 'utf8' });
      expect(run.stdout).toBe(`hello from ${path.join(tools, name)}\n`);
    }
    // The link's target arrives (outside the directory input, inside the root); the directory link and the dangling one do not.
    expect(fs.statSync(path.join(jail, tree, 'bin', 'hello')).isFile()).toBe(true);
    expect(fs.existsSync(path.join(jail, tools, 'dangling'))).toBe(false);
    expect(fs.existsSync(path.join(jail, tools, 'dir-link'))).toBe(false);
    expect(fs.existsSync(path.join(jail, tools, 'script'))).toBe(false);
  });

  it('deps --list lists exactly the ELF entries find -L counts, links included', async () => {
    const tools = path.join(tree, 'tools');
    const r = await elfcopy(['deps', '--list', tools]);
    expect(r.exitCode).toBe(0);
    const listed = r.stdout.split('\n').filter((l) => l.startsWith(tools + '/')).sort();
    expect(listed).toEqual(elfEntries(tools));
    expect(listed.length).toBe(4);
  });

  it('with --root, an absolute link resolves inside the root, never to the host file of that name', async () => {
    const root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'opt', 'd'), { recursive: true });
    fs.mkdirSync(path.join(root, 'usr', 'bin'), { recursive: true });
    // The root has no /usr/bin/true: a link to it must not bring the host's.
    fs.symlinkSync('/usr/bin/true', path.join(root, 'opt', 'd', 'true-link'));
    fs.copyFileSync(path.join(tree, 'bin', 'hello'), path.join(root, 'opt', 'd', 'hello'));
    const r = await elfcopy(['deps', '--list', '--root', root, '/opt/d']);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('/opt/'))).toEqual(['/opt/d/hello']);
  });

  it('/usr/lib/git-core: every ELF entry arrives, and git-upload-pack (a link) runs in the jail', async () => {
    const dir = '/usr/lib/git-core';
    if (!fs.existsSync(dir)) throw new Error('git is in scripts/test-packages.txt: install it');
    const jail = path.join(tmp, 'git');
    // git wants /dev/null: init makes it.
    expect((await elfcopy(['init', jail, '-q'])).exitCode).toBe(0);
    const r = await elfcopy([dir, '--into', jail, '--with', 'none', '-q']);
    expect(r.exitCode).toBe(0);
    const want = elfEntries(dir).map((f) => path.basename(f));
    const got = fs.readdirSync(path.join(jail, dir)).sort();
    expect(got).toEqual(want);
    expect(fs.lstatSync(path.join(jail, dir, 'git-upload-pack')).isSymbolicLink()).toBe(true);
    const run = spawnSync('chroot', [jail, path.join(dir, 'git-upload-pack'), '-h'], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toMatch(/usage: git-upload-pack/);
  });
});
