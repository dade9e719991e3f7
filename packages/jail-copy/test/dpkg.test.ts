/**
 * The native dpkg-database reader against dpkg itself: `dpkg-query -W` for packages, versions,
 * architectures, status and Depends; `dpkg-query -S` for who lists a path (merged-/usr aliases taken from
 * the root's own top-level symlinks, independently of the reader); `dpkg -V` for md5sums;
 * `dpkg-divert --list` for diversions. On the host and on crafted roots, plus hostile databases.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDpkgDatabase, DpkgDatabaseError, type DpkgDatabase, type DpkgPackage } from '../src/index.js';
import { tempDir } from './helpers/jail.js';

const hasDpkg = spawnSync('dpkg-query', ['--version']).status === 0;
const WANT: Record<string, string> = { unknown: 'u', install: 'i', hold: 'h', deinstall: 'r', purge: 'p' };
const STATE: Record<string, string> = {
  'not-installed': 'n',
  'config-files': 'c',
  'half-installed': 'H',
  unpacked: 'U',
  'half-configured': 'F',
  'triggers-awaited': 'W',
  'triggers-pending': 't',
  installed: 'i',
};

/** `dpkg-query -S` for many literal paths at once: path → the package ids listing it (diversion lines dropped). */
function dpkgSearch(paths: string[], admindir?: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const args = admindir ? [`--admindir=${admindir}`] : [];
  for (let i = 0; i < paths.length; i += 500) {
    const r = spawnSync('dpkg-query', [...args, '-S', ...paths.slice(i, i + 500)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    for (const line of r.stdout.split('\n')) {
      if (line === '' || line.startsWith('diversion by ') || line.startsWith('local diversion')) continue;
      const sep = line.indexOf(': /');
      const p = line.slice(sep + 2);
      const ids = line.slice(0, sep).split(', ');
      out.set(p, [...(out.get(p) ?? []), ...ids].sort());
    }
  }
  return out;
}

/** The merged-/usr aliases of a path, from the root's top-level links `/X -> usr/X` (read here, not by the reader). */
function aliasesOf(p: string, root: string): string[] {
  const out = new Set([p]);
  for (const name of fs.readdirSync(root)) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(root, name));
    } catch {
      continue;
    }
    if (target.replace(/^\/+/, '') !== `usr/${name}`) continue;
    // The link itself is an entry of its own (a package may list /lib as a directory); what is below it aliases.
    if (p.startsWith(`/${name}/`)) out.add(`/usr${p}`);
    if (p.startsWith(`/usr/${name}/`)) out.add(p.slice(4));
  }
  return [...out];
}

const md5 = (file: string): string => createHash('md5').update(fs.readFileSync(file)).digest('hex');
/** Paths dpkg-query -S takes literally: no glob characters, and not "/" (which it finds under no package). */
const hasGlob = (p: string): boolean => /[*?[\]\\]/.test(p) || p === '/';

describe.skipIf(!hasDpkg)('the host dpkg database, against dpkg-query', () => {
  let db: DpkgDatabase;
  beforeAll(() => {
    const found = readDpkgDatabase('/');
    if (!found) throw new Error('the host has dpkg-query but no /var/lib/dpkg/status');
    db = found;
  });

  it('dpkg-query -W: the same packages with the same versions, architectures, status and source', () => {
    const fmt = '${binary:Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\t${source:Package}\t${source:Version}\t${Multi-Arch}\n';
    const oracle = execFileSync('dpkg-query', ['-W', '-f', fmt], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean).sort();
    const ours = db.installed
      .map((p) => `${p.id}\t${p.version}\t${p.architecture}\t${WANT[p.status.want]}${STATE[p.status.state]}${p.status.ok ? ' ' : 'R'}\t${p.source.name}\t${p.source.version}\t${p.multiArch}`)
      .sort();
    expect(ours.length).toBeGreaterThan(50);
    expect(ours).toEqual(oracle);
  });

  it('dpkg-query -W ${Depends}: the same package names in the same groups of alternatives', () => {
    const oracle = new Map(
      execFileSync('dpkg-query', ['-W', '-f', '${binary:Package}\t${Pre-Depends}\t${Depends}\n'], { encoding: 'utf8', maxBuffer: 64 << 20 })
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [id = '', pre = '', dep = ''] = l.split('\t');
          const groups = (v: string): string[][] => (v.trim() === '' ? [] : v.split(',').map((g) => g.split('|').map((a) => a.trim().split(/[\s:(]/)[0] ?? '')));
          return [id, { pre: groups(pre), dep: groups(dep) }] as const;
        }),
    );
    const names = (rel: DpkgPackage['depends']): string[][] => rel.map((g) => g.map((a) => a.name));
    let compared = 0;
    for (const p of db.installed) {
      expect({ id: p.id, pre: names(p.preDepends), dep: names(p.depends) }).toEqual({ id: p.id, ...oracle.get(p.id) });
      compared++;
    }
    expect(compared).toBe(oracle.size);
  });

  it('dpkg-query -S: every path of a sample of packages, and each of its merged-/usr aliases, has the same owners', () => {
    const wanted = ['libc6', 'dash', 'coreutils', 'nginx-common', 'libssl3', 'base-files', 'libpcre2-8-0', 'zlib1g'];
    const sample = new Set<string>();
    for (const name of wanted) {
      const pkg = db.package(name);
      if (pkg) for (const f of db.filesOf(pkg)) if (!hasGlob(f)) sample.add(f);
    }
    // And every 97th path of the whole database, so no single package's layout decides.
    let i = 0;
    for (const pkg of db.installed) for (const f of db.filesOf(pkg)) if (i++ % 97 === 0 && !hasGlob(f)) sample.add(f);
    const queries = [...new Set([...sample].flatMap((p) => aliasesOf(p, '/')))];
    const oracle = dpkgSearch(queries);
    let aliased = 0;
    for (const p of sample) {
      const aliases = aliasesOf(p, '/');
      const expected = [...new Set(aliases.flatMap((a) => oracle.get(a) ?? []))].sort();
      for (const a of aliases) {
        expect({ path: a, owners: db.listedBy(a).map((x) => x.id) }).toEqual({ path: a, owners: expected });
        if (a !== p) aliased++;
      }
    }
    expect(sample.size).toBeGreaterThan(1000);
    // On a merged-/usr host most of libc6's paths are only findable under an alias dpkg does not know.
    if (fs.lstatSync('/lib').isSymbolicLink()) expect(aliased).toBeGreaterThan(100);
  });

  it('the reader names libc6 for /usr/lib/<triplet>/libc.so.6 although dpkg lists it under /lib', () => {
    const libc = db.package('libc6');
    if (!libc) return;
    const listed = db.filesOf(libc).find((f) => /\/libc\.so\.6$/.test(f));
    expect(listed).toBeDefined();
    const onDisk = fs.realpathSync(listed ?? '');
    const owners = db.ownersOf(onDisk);
    expect(owners.map((o) => o.package.name)).toEqual(['libc6']);
    expect(owners[0]?.listedPath).toBe(listed);
    expect(owners[0]?.md5).toBe(md5(onDisk));
  });

  it('dpkg -V: a recorded md5 differs from the file exactly where dpkg --verify says so', () => {
    for (const name of ['libc6', 'coreutils', 'nginx-common', 'base-files']) {
      const pkg = db.package(name);
      if (!pkg) continue;
      const v = spawnSync('dpkg', ['-V', pkg.id], { encoding: 'utf8' });
      const oracle = v.stdout
        .split('\n')
        .filter((l) => /^..5/.test(l))
        .map((l) => l.replace(/^\S+\s+(c\s+)?/, ''))
        .sort();
      const ours: string[] = [];
      let checked = 0;
      for (const f of db.filesOf(pkg)) {
        const rec = db.ownersOf(f).find((r) => r.package === pkg);
        let st: fs.Stats;
        try {
          st = fs.lstatSync(db.canonicalPath(f));
        } catch {
          continue;
        }
        if (!rec?.md5 || !st.isFile()) continue;
        checked++;
        if (md5(db.canonicalPath(f)) !== rec.md5) ours.push(f);
      }
      expect(checked).toBeGreaterThan(0);
      expect({ name, differs: ours.sort() }).toEqual({ name, differs: oracle });
    }
  });

  it('dpkg-divert --list: the same diversions; a diverted file belongs to the diverter at from, to the others at to', () => {
    const oracle = execFileSync('dpkg-divert', ['--list'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^(local )?diversion of (.+) to (.+?)(?: by (\S+))?$/.exec(l);
        return m ? `${m[2]} ${m[3]} ${m[4] ?? ':'}` : l;
      })
      .sort();
    expect(db.diversions.map((d) => `${d.from} ${d.to} ${d.by ?? ':'}`).sort()).toEqual(oracle);
    for (const d of db.diversions) {
      if (d.by === undefined) continue;
      const fromOwners = db.ownersOf(d.from).map((r) => r.package.name);
      const listers = db.listedBy(d.from).map((p) => p.name);
      expect(fromOwners).toEqual(listers.includes(d.by) ? [d.by] : []);
      expect(db.ownersOf(d.to).map((r) => r.package.name)).toEqual(listers.filter((n) => n !== d.by));
    }
  });
});

describe.skipIf(!hasDpkg)('crafted roots, against dpkg-query --admindir', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = tempDir('dpkg');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const STATUS = [
    'Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.21.22\nMaintainer: m\nDescription: d\n',
    'Package: foo\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1:1.0-1+b1\nSource: foosrc (1.0-1)\nDepends: libc6 (>= 2.3), bar | baz:any\nMaintainer: m\nDescription: d\n continued\n',
    'Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2\nConffiles:\n /etc/bar conf.d 0123456789abcdef0123456789abcdef\n /etc/old aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa obsolete\nMaintainer: m\nDescription: d\n',
    'Package: gone\nStatus: purge ok not-installed\nArchitecture: amd64\nMaintainer: m\nDescription: d\n',
    'Package: qux\nStatus: install ok installed\nArchitecture: arm64\nVersion: 3\nMaintainer: m\nDescription: d\n',
  ].join('\n');

  function craft(name: string, extra: (root: string) => void = () => undefined): string {
    const root = path.join(tmp, name);
    const info = path.join(root, 'var/lib/dpkg/info');
    fs.mkdirSync(info, { recursive: true });
    fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.symlinkSync('usr/lib', path.join(root, 'lib'));
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), STATUS);
    fs.writeFileSync(path.join(info, 'format'), '1\n');
    fs.writeFileSync(path.join(info, 'foo:amd64.list'), '/.\n/lib\n/lib/foo.so.1\n/etc/foo with space\n');
    fs.writeFileSync(path.join(info, 'foo:amd64.md5sums'), `${'1'.repeat(32)}  lib/foo.so.1\n`);
    fs.writeFileSync(path.join(info, 'bar.list'), '/.\n/usr\n/usr/lib\n/usr/lib/bar.so\n/etc/bar conf.d\n');
    fs.writeFileSync(path.join(info, 'qux.list'), '/.\n/usr/lib/qux\n');
    fs.writeFileSync(path.join(root, 'usr/lib/foo.so.1'), 'foo');
    fs.writeFileSync(path.join(root, 'usr/lib/bar.so'), 'bar');
    extra(root);
    return root;
  }
  const admin = (root: string): string => path.join(root, 'var/lib/dpkg');
  const read = (root: string): DpkgDatabase => {
    const db = readDpkgDatabase(root);
    if (!db) throw new Error(`no database read from ${root}`);
    return db;
  };

  it('packages, ids and versions equal dpkg-query -W; a purged package is not listed; a foreign one is NAME:ARCH', () => {
    const root = craft('basic');
    const oracle = execFileSync('dpkg-query', [`--admindir=${admin(root)}`, '-W', '-f', '${binary:Package} ${Version} ${source:Package} ${source:Version}\n'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean)
      .sort();
    const db = read(root);
    expect(db.installed.map((p) => `${p.id} ${p.version} ${p.source.name} ${p.source.version}`).sort()).toEqual(oracle);
    expect(db.package('qux')?.id).toBe('qux:arm64');
    expect(db.package('foo')?.depends).toEqual([[{ name: 'libc6', op: '>=', version: '2.3' }], [{ name: 'bar' }, { name: 'baz', arch: 'any' }]]);
    expect(db.package('bar')?.conffiles).toEqual([
      { path: '/etc/bar conf.d', md5: '0123456789abcdef0123456789abcdef', obsolete: false },
      { path: '/etc/old', md5: 'a'.repeat(32), obsolete: true },
    ]);
  });

  it('listedBy equals dpkg-query -S for every listed path and its /lib alias; ownersOf gives md5 and conffile md5', () => {
    const root = craft('search');
    const db = read(root);
    const listed = [...new Set(db.installed.flatMap((p) => db.filesOf(p)))].filter((p) => p !== '/');
    const queries = [...new Set(listed.flatMap((p) => aliasesOf(p, root)))];
    const oracle = dpkgSearch(queries, admin(root));
    for (const p of listed) {
      const expected = [...new Set(aliasesOf(p, root).flatMap((a) => oracle.get(a) ?? []))].sort();
      for (const a of aliasesOf(p, root)) expect({ a, ids: db.listedBy(a).map((x) => x.id) }).toEqual({ a, ids: expected });
    }
    // dpkg itself finds /usr/lib/foo.so.1 under no package: the alias is the reader's.
    expect(oracle.get('/usr/lib/foo.so.1')).toBeUndefined();
    expect(db.ownersOf('/usr/lib/foo.so.1').map((r) => [r.package.id, r.listedPath, r.md5])).toEqual([['foo:amd64', '/lib/foo.so.1', '1'.repeat(32)]]);
    expect(db.ownersOf('/etc/bar conf.d').map((r) => [r.package.id, r.md5, r.conffile])).toEqual([['bar', '0123456789abcdef0123456789abcdef', true]]);
    expect(db.ownersOf('/usr/lib').map((r) => r.package.id)).toEqual(['bar']);
  });

  it('a root without a status file has no database; info format 0 names files NAME.list as dpkg does', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect(readDpkgDatabase(empty)).toBeUndefined();
    const root = craft('format0', (r) => {
      fs.rmSync(path.join(r, 'var/lib/dpkg/info/format'));
      fs.renameSync(path.join(r, 'var/lib/dpkg/info/foo:amd64.list'), path.join(r, 'var/lib/dpkg/info/foo.list'));
    });
    const oracle = dpkgSearch(['/lib/foo.so.1'], admin(root));
    expect(oracle.get('/lib/foo.so.1')).toEqual(['foo:amd64']);
    expect(read(root).listedBy('/lib/foo.so.1').map((p) => p.id)).toEqual(['foo:amd64']);
  });

  it('the updates journal overrides the status file, as dpkg-query reads it', () => {
    const root = craft('updates', (r) => {
      fs.mkdirSync(path.join(r, 'var/lib/dpkg/updates'));
      fs.writeFileSync(path.join(r, 'var/lib/dpkg/updates/0001'), 'Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2.1\nMaintainer: m\nDescription: d\n');
    });
    const oracle = execFileSync('dpkg-query', [`--admindir=${admin(root)}`, '-W', '-f', '${Version}', 'bar'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(oracle).toBe('2.1');
    expect(read(root).package('bar')?.version).toBe(oracle);
  });
});

describe('a hostile database: one error naming the file, never a hang, never a read outside the root', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = tempDir('dpkg-hostile');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function root(name: string, status: string): string {
    const r = path.join(tmp, name);
    fs.mkdirSync(path.join(r, 'var/lib/dpkg/info'), { recursive: true });
    fs.writeFileSync(path.join(r, 'var/lib/dpkg/status'), status);
    fs.writeFileSync(path.join(r, 'var/lib/dpkg/info/format'), '1\n');
    return r;
  }
  const PKG = 'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\nVersion: 1\n';

  it('a FIFO as the status file is refused by name, without opening it', () => {
    const r = path.join(tmp, 'fifo');
    fs.mkdirSync(path.join(r, 'var/lib/dpkg'), { recursive: true });
    execFileSync('mkfifo', [path.join(r, 'var/lib/dpkg/status')]);
    expect(() => readDpkgDatabase(r)).toThrow(DpkgDatabaseError);
    try {
      readDpkgDatabase(r);
    } catch (err) {
      expect((err as DpkgDatabaseError).path).toBe(path.join(r, 'var/lib/dpkg/status'));
    }
  });

  it('a huge sparse .list is refused by name, not read', () => {
    const r = root('huge', PKG);
    const list = path.join(r, 'var/lib/dpkg/info/libc6:amd64.list');
    fs.writeFileSync(list, '');
    fs.truncateSync(list, 65 * 1024 * 1024);
    const db = readDpkgDatabase(r);
    expect(() => db?.ownersOf('/x')).toThrow(new RegExp('more than'));
    try {
      db?.ownersOf('/x');
    } catch (err) {
      expect((err as DpkgDatabaseError).path).toBe(list);
    }
  });

  it('a package name that would climb out of info/ is dropped; info/ as a link to the host is resolved inside the root', () => {
    const r = root('climb', `Package: ../../../../etc/passwd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n${PKG}`);
    fs.mkdirSync(path.join(r, 'adm'));
    fs.renameSync(path.join(r, 'var/lib/dpkg/status'), path.join(r, 'adm/status'));
    fs.rmSync(path.join(r, 'var/lib/dpkg/info'), { recursive: true });
    // Followed by the host this is the host's own database, which has libc6's list; inside the root it is missing.
    fs.symlinkSync('/../../../../../var/lib/dpkg/info', path.join(r, 'adm/info'));
    const db = readDpkgDatabase(r, { admindir: '/adm' });
    expect(db?.installed.map((p) => p.name)).toEqual(['libc6']);
    const libc = db?.package('libc6');
    expect(libc && db?.filesOf(libc)).toEqual([]);
  });

  it('a symlink loop on a listed path and garbage lines do not break the index', () => {
    const r = root('loop', PKG);
    fs.symlinkSync('b', path.join(r, 'a'));
    fs.symlinkSync('a', path.join(r, 'b'));
    fs.writeFileSync(path.join(r, 'var/lib/dpkg/info/libc6:amd64.list'), '/.\n/a/x\nnot-a-path\n\0/nul\n/usr/lib/ok\n');
    const db = readDpkgDatabase(r);
    expect(db?.listedBy('/a/x').map((p) => p.id)).toEqual(['libc6:amd64']);
    expect(db?.listedBy('/usr/lib/ok').map((p) => p.id)).toEqual(['libc6:amd64']);
    expect(db?.listedBy('not-a-path')).toEqual([]);
  });
});
