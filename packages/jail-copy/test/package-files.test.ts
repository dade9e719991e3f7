/**
 * The generic package profile's choice of packages and files (package-files.ts), on a dpkg database the
 * test writes into a temporary root — so each rule is checked apart from what this machine has installed:
 * the owner is found under its merged-/usr spelling, the base system (Essential, required and what they
 * depend on) is never brought, a library-only dependency is not followed, Recommends are not followed,
 * an alternative resolves to the installed package, documentation and other programs are left out.
 * The host's own database is checked against dpkg-query in profiles-programs.test.ts (tclsh).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SysRoot } from '@elfcopy/elf-deps';
import { packageRuntimeFiles } from '../src/profiles/package-files.js';
import { tempDir } from './helpers/jail.js';

const tmp = tempDir('package-files');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Pkg {
  name: string;
  fields?: Record<string, string>;
  files: string[];
}

const packages: Pkg[] = [
  { name: 'dpkg', fields: { Essential: 'yes', Priority: 'required' }, files: ['/usr/bin/dpkg'] },
  { name: 'base-files', fields: { Essential: 'yes', Priority: 'required', Depends: 'libc6' }, files: ['/etc/debian_version'] },
  { name: 'libc6', fields: { Priority: 'optional' }, files: ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so'] },
  {
    name: 'app',
    fields: { Depends: 'libapp1, app-data | app-data-alt, libc6 (>= 2.34)', Recommends: 'app-extras' },
    files: ['/bin/app', '/bin/app-helper', '/usr/share/doc/app/README', '/usr/share/man/man1/app.1.gz', '/usr/lib/app/plugin.conf'],
  },
  { name: 'libapp1', fields: { Depends: 'libc6' }, files: ['/lib/x86_64-linux-gnu/libapp.so.1', '/usr/share/doc/libapp1/copyright'] },
  { name: 'app-data', fields: { Depends: 'libc6, data-common' }, files: ['/usr/share/app/init.dat', '/usr/share/app/lib/more.dat'] },
  { name: 'data-common', files: ['/usr/share/data-common/table'] },
  { name: 'app-extras', files: ['/usr/share/app-extras/x'] },
];

let root: string;
const dirsOf = (f: string): string[] => {
  const out: string[] = [];
  for (let d = path.posix.dirname(f); d !== '/'; d = path.posix.dirname(d)) out.unshift(d);
  return out;
};

beforeAll(() => {
  root = path.join(tmp, 'root');
  // Merged /usr: /bin and /lib are links, the lists keep the old spellings.
  for (const d of ['usr/bin', 'usr/lib', 'var/lib/dpkg/info']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.symlinkSync('usr/bin', path.join(root, 'bin'));
  fs.symlinkSync('usr/lib', path.join(root, 'lib'));
  const status: string[] = [];
  for (const p of packages) {
    const fields = { Package: p.name, Status: 'install ok installed', Architecture: 'amd64', Version: '1.0', Maintainer: 't <t@x>', ...(p.fields ?? {}) };
    status.push(Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n'));
    const listed = new Set<string>(['/.']);
    for (const f of p.files) {
      for (const d of dirsOf(f)) listed.add(d);
      listed.add(f);
      const onDisk = path.join(root, f);
      fs.mkdirSync(path.dirname(onDisk), { recursive: true });
      fs.writeFileSync(onDisk, `${p.name}\n`);
    }
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/info', `${p.name}.list`), [...listed].join('\n') + '\n');
  }
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), status.join('\n\n') + '\n');
});

describe('packageRuntimeFiles on a crafted dpkg database', () => {
  const docs = (p: string): boolean => p.startsWith('/usr/share/doc/') || p.startsWith('/usr/share/man/');

  it("brings the owner's runtime files and the dependencies that ship runtime files, nothing else", () => {
    const r = packageRuntimeFiles(new SysRoot(root), ['/usr/bin/app'], [], docs);
    expect(r.warnings).toEqual([]);
    // app (found as /bin/app), app-data (an alternative), data-common (its dependency); not libapp1
    // (only a library, which the closure brings), not libc6 (base: a dependency of Essential base-files),
    // not app-extras (Recommends).
    expect(r.packages).toEqual(['app', 'app-data', 'data-common']);
    expect(r.files).toEqual(['/usr/bin/app', '/usr/lib/app/plugin.conf', '/usr/share/app/init.dat', '/usr/share/app/lib/more.dat', '/usr/share/data-common/table']);
    expect(r.consulted).toEqual([path.join(root, 'var/lib/dpkg/status')]);
  });

  it('a base package is refused by name, an unknown one is a warning, a program no package owns brings nothing', () => {
    const sys = new SysRoot(root);
    expect(packageRuntimeFiles(sys, [], ['libc6'], docs).warnings[0]).toMatch(/'libc6' is part of the base system/);
    expect(packageRuntimeFiles(sys, [], ['nosuch'], docs).warnings[0]).toMatch(/'nosuch' is not installed/);
    expect(packageRuntimeFiles(sys, ['/usr/bin/dpkg'], [], docs).files).toEqual([]);
    fs.writeFileSync(path.join(root, 'usr/bin/orphan'), 'x');
    expect(packageRuntimeFiles(sys, ['/usr/bin/orphan'], [], docs)).toMatchObject({ files: [], packages: [], warnings: [] });
  });

  it('a root without a dpkg database gives nothing and no error', () => {
    const bare = path.join(tmp, 'bare');
    fs.mkdirSync(path.join(bare, 'usr/bin'), { recursive: true });
    expect(packageRuntimeFiles(new SysRoot(bare), ['/usr/bin/app'], [], docs)).toMatchObject({ files: [], packages: [] });
  });
});
