/**
 * Resolution inside a jail: JAIL itself is checked; links resolve inside the jail with chroot
 * semantics; a link the host would follow out of the jail is refused unless vouched for, judged by
 * the host's real walk and not only by the link's text; the walk is anchored on open directories, so
 * a directory swapped for a link after it was checked does not redirect what comes next.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadJailError, JailConflictError, JailEscapeError } from '../src/errors.js';
import { Jail, climbsAboveRoot, leavesJail, type TrustLink } from '../src/confine/inroot.js';
import { requireRoot, snapshot, tempDir } from './helpers/jail.js';

const tmp = tempDir('inroot');
const outside = path.join(tmp, 'outside');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  requireRoot();
  fs.mkdirSync(path.join(outside, 'lib'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'target'), 'outside the jail\n');
});

let count = 0;
/** A fresh jail holding `dirs` (relative) and `links` ([relative path, target]). */
function jailWith(dirs: string[], links: [string, string][] = []): string {
  const j = path.join(tmp, `jail-${++count}`);
  fs.mkdirSync(j);
  for (const d of dirs) fs.mkdirSync(path.join(j, d), { recursive: true });
  for (const [p, target] of links) fs.symlinkSync(target, path.join(j, p));
  return j;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('Jail.open: JAIL itself', () => {
  it('refuses /, a link to /, a path that climbs to /, a file, a link to a file, a missing directory and a path below a file', () => {
    const toRoot = path.join(tmp, 'to-root');
    fs.symlinkSync('/', toRoot);
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    const toFile = path.join(tmp, 'to-file');
    fs.symlinkSync(file, toFile);
    for (const bad of ['/', toRoot, `${tmp}/../../../..`, file, toFile, path.join(tmp, 'missing'), path.join(file, 'jail')]) {
      expect(caught(() => Jail.open(bad)), bad).toBeInstanceOf(BadJailError);
    }
  });

  it('opens a link to a directory at its real path', () => {
    const j = jailWith([]);
    const link = path.join(tmp, `link-to-jail-${count}`);
    fs.symlinkSync(j, link);
    expect(Jail.open(link).root).toBe(j);
  });

  it('anchors its operations on open directories where /proc is mounted (this host)', () => {
    expect(Jail.open(jailWith([])).anchored).toBe(true);
  });

  it('refuses to go on when the jail directory was replaced after it was opened', () => {
    const j = jailWith(['usr']);
    const jail = Jail.open(j);
    fs.renameSync(j, `${j}-old`);
    fs.mkdirSync(j);
    expect(caught(() => jail.resolveParent('/usr/x'))).toBeInstanceOf(BadJailError);
  });
});

describe('resolveParent: chroot semantics', () => {
  it('returns the real host directory, the in-jail real path and the last component (not followed)', () => {
    const j = jailWith(['usr/lib'], [['usr/lib/libx.so', '/etc/passwd']]);
    expect(Jail.open(j).resolveParent('/usr/lib/libx.so')).toEqual({ hostDir: path.join(j, 'usr/lib'), jailDir: '/usr/lib', name: 'libx.so' });
  });

  it('follows relative links that stay inside the jail, `..` included', () => {
    const j = jailWith(['usr/lib'], [
      ['lib', 'usr/lib'],
      ['usr/lib64', '../usr/./lib'],
    ]);
    const jail = Jail.open(j);
    expect(jail.resolveParent('/lib/x.so').jailDir).toBe('/usr/lib');
    expect(jail.resolveParent('/usr/lib64/x.so').jailDir).toBe('/usr/lib');
    expect(jail.resolveDir('/lib/../usr/lib64')).toBe('/usr/lib');
  });

  it('refuses an absolute link (JAIL/usr -> /) with JailEscapeError naming the link and its target', () => {
    const j = jailWith([], [['usr', '/']]);
    const err = caught(() => Jail.open(j).resolveParent('/usr/lib/x.so'));
    expect(err).toBeInstanceOf(JailEscapeError);
    expect([(err as JailEscapeError).link, (err as JailEscapeError).target, (err as JailEscapeError).path]).toEqual(['/usr', '/', '/usr']);
    expect((err as JailEscapeError).message).toMatch(/symlink to '\/', which leaves the jail/);
  });

  it('refuses a relative link climbing above the root (JAIL/usr/lib -> ../../../../)', () => {
    const j = jailWith(['usr'], [['usr/lib', '../../../../']]);
    const err = caught(() => Jail.open(j).resolveParent('/usr/lib/x86_64-linux-gnu/x.so'));
    expect(err).toBeInstanceOf(JailEscapeError);
    expect((err as JailEscapeError).link).toBe('/usr/lib');
  });

  it('judges a link by the host\'s real walk, not its text: a/b/l -> d/../../.. with d -> .. leaves the jail', () => {
    // Lexically l climbs a/b -> a/b/d -> a/b -> a -> (root): fine. The host walks d first (to a), then
    // `..` to the root, then `..` out of it.
    const j = jailWith(['a/b'], [
      ['a/b/d', '..'],
      ['a/b/l', 'd/../../..'],
    ]);
    expect(climbsAboveRoot('/a/b/l', 'd/../../..')).toBe(false);
    const err = caught(() => Jail.open(j).resolveParent('/a/b/l/x'));
    expect(err).toBeInstanceOf(JailEscapeError);
    expect([(err as JailEscapeError).link, (err as JailEscapeError).target]).toEqual(['/a/b/l', 'd/../../..']);
  });

  it('follows a link that leaves the jail when trustLink vouches for it, resolving it inside the jail', () => {
    const j = jailWith(['usr/lib/x86_64-linux-gnu'], [['lib64', '/usr/lib/x86_64-linux-gnu']]);
    const asked: [string, string][] = [];
    const trustLink: TrustLink = (link, target) => {
      asked.push([link, target]);
      return link === '/lib64' && target === '/usr/lib/x86_64-linux-gnu';
    };
    const r = Jail.open(j).resolveParent('/lib64/ld-linux-x86-64.so.2', { trustLink });
    expect(r).toEqual({ hostDir: path.join(j, 'usr/lib/x86_64-linux-gnu'), jailDir: '/usr/lib/x86_64-linux-gnu', name: 'ld-linux-x86-64.so.2' });
    expect(asked).toEqual([['/lib64', '/usr/lib/x86_64-linux-gnu']]);
  });

  it('asks trustLink about a link at its real place inside the jail (its parents resolved)', () => {
    const j = jailWith(['usr/lib', 'opt/foo'], [
      ['lib', 'usr/lib'],
      ['usr/lib/foo', '/opt/foo'],
    ]);
    const asked: string[] = [];
    const r = Jail.open(j).resolveParent('/lib/foo/x', { trustLink: (link) => (asked.push(link), true) });
    expect(asked).toEqual(['/usr/lib/foo']);
    expect(r.jailDir).toBe('/opt/foo');
  });

  it('keeps `..` of a trusted link at the jail root (chroot: /.. is /)', () => {
    const j = jailWith(['srv/data', 'a'], [['a/up', '../../../../srv/data']]);
    expect(Jail.open(j).resolveDir('/a/up', { trustLink: () => true })).toBe('/srv/data');
  });

  it('refuses a trusted name with another target (trust is per link and target)', () => {
    const j = jailWith([], [['lib64', '/']]);
    const trustLink: TrustLink = (link, target) => link === '/lib64' && target === '/usr/lib64';
    expect(caught(() => Jail.open(j).resolveParent('/lib64/x', { trustLink }))).toBeInstanceOf(JailEscapeError);
  });

  it('says what is in the way: a missing directory, a file where a directory goes, a dangling link', () => {
    const j = jailWith(['usr'], [['usr/dangling', 'nowhere']]);
    fs.writeFileSync(path.join(j, 'usr/file'), '');
    const jail = Jail.open(j);
    const kinds = ['/usr/missing/x', '/usr/file/x', '/usr/dangling/x'].map((p) => {
      const err = caught(() => jail.resolveParent(p));
      expect(err, p).toBeInstanceOf(JailConflictError);
      return [(err as JailConflictError).path, (err as JailConflictError).found, (err as JailConflictError).needed];
    });
    expect(kinds).toEqual([
      ['/usr/missing', 'missing', 'directory'],
      ['/usr/file', 'file', 'directory'],
      ['/usr/nowhere', 'missing', 'directory'],
    ]);
  });

  it('stops a link loop and a chain longer than 40 links (MAXSYMLINKS), and follows a chain of 40', () => {
    const j = jailWith(['d'], [
      ['a', 'b'],
      ['b', 'a'],
    ]);
    for (let i = 1; i <= 41; i++) fs.symlinkSync(i === 41 ? 'd' : `l${i + 1}`, path.join(j, `l${i}`));
    const jail = Jail.open(j);
    const loop = caught(() => jail.resolveParent('/a/x'));
    expect(loop).toBeInstanceOf(JailConflictError);
    expect((loop as JailConflictError).found).toBe('link-loop');
    // l1 -> l2 -> … -> l41 -> d: 41 links; from l2 on: 40.
    expect(jail.resolveDir('/l2')).toBe('/d');
    expect((caught(() => jail.resolveDir('/l1')) as JailConflictError).found).toBe('link-loop');
  });
});

describe('lstat inside the jail', () => {
  it('is the entry itself (a final link is not followed); undefined when it or a parent is missing', () => {
    const j = jailWith(['usr/lib'], [['usr/lib/libx.so', path.join(outside, 'target')]]);
    fs.writeFileSync(path.join(j, 'usr/lib/file'), 'x');
    const jail = Jail.open(j);
    expect(jail.lstat('/usr/lib/libx.so')?.isSymbolicLink()).toBe(true);
    expect(jail.lstat('/usr/lib/file')?.size).toBe(1);
    expect(jail.lstat('/usr/lib/none')).toBeUndefined();
    expect(jail.lstat('/usr/none/x')).toBeUndefined();
    expect(jail.lstat('/usr/lib/file/x')).toBeUndefined();
    expect(jail.lstat('/')?.isDirectory()).toBe(true);
  });

  it('refuses to look through a link that leaves the jail', () => {
    const j = jailWith([], [['usr', '/usr']]);
    expect(caught(() => Jail.open(j).lstat('/usr/bin/true'))).toBeInstanceOf(JailEscapeError);
  });
});

describe('the walk is anchored on open directories', () => {
  it('a directory swapped for a link to outside after it was opened does not redirect a write', () => {
    const j = jailWith(['usr/lib']);
    const before = snapshot(outside);
    const jail = Jail.open(j);
    const { dir, name } = jail.openParent('/usr/lib/x.so');
    try {
      // The attack the walk must survive: JAIL/usr replaced by a link to outside between check and use.
      fs.renameSync(path.join(j, 'usr'), path.join(j, 'usr-moved'));
      fs.symlinkSync(outside, path.join(j, 'usr'));
      fs.writeFileSync(dir.entry(name), 'written through the open directory');
    } finally {
      dir.close();
    }
    expect(fs.readFileSync(path.join(j, 'usr-moved/lib/x.so'), 'utf8')).toBe('written through the open directory');
    expect(snapshot(outside)).toEqual(before);
  });

  it('leavesJail: absolute targets and relative ones climbing above the root', () => {
    expect([leavesJail('/lib64', '/lib'), leavesJail('/usr/lib', '../../x'), leavesJail('/usr/lib', '../x'), leavesJail('/usr/lib', 'a/../../..')]).toEqual([true, true, false, true]);
  });
});

describe('holdDirectories: one walk per directory for a whole apply', () => {
  it('a held directory swapped for a link to outside keeps every later write inside the jail', () => {
    const j = jailWith(['usr/lib']);
    const before = snapshot(outside);
    const jail = Jail.open(j);
    const release = jail.holdDirectories(undefined);
    try {
      const first = jail.openParent('/usr/lib/a.so');
      first.dir.close();
      fs.renameSync(path.join(j, 'usr'), path.join(j, 'usr-moved'));
      fs.symlinkSync(outside, path.join(j, 'usr'));
      // The held directory, not a new walk (which would refuse the link that leaves the jail).
      const { dir, name } = jail.openParent('/usr/lib/b.so');
      try {
        expect(dir.fd).toBe(first.dir.fd);
        fs.writeFileSync(dir.entry(name), 'held');
      } finally {
        dir.close();
      }
    } finally {
      release();
    }
    expect(fs.readFileSync(path.join(j, 'usr-moved/lib/b.so'), 'utf8')).toBe('held');
    expect(snapshot(outside)).toEqual(before);
    // Released: the walk runs again and meets the link.
    expect(caught(() => jail.openParent('/usr/lib/c.so'))).toBeInstanceOf(JailEscapeError);
  });

  it('forgetDirectories: the next walk resolves afresh, under the rules; another trustLink never shares the held ones', () => {
    const j = jailWith(['usr/lib', 'usr/lib64']);
    const jail = Jail.open(j);
    const trust: TrustLink = () => true;
    const release = jail.holdDirectories(trust);
    try {
      const a = jail.openParent('/usr/lib/x.so', { trustLink: trust });
      a.dir.close();
      expect(a.dir.jailPath).toBe('/usr/lib');
      // Not the held walk: a caller with other rules walks on its own.
      const other = jail.openParent('/usr/lib/x.so');
      expect(other.dir.fd).not.toBe(a.dir.fd);
      other.dir.close();
      fs.renameSync(path.join(j, 'usr/lib'), path.join(j, 'usr/lib-old'));
      fs.symlinkSync('lib64', path.join(j, 'usr/lib'));
      jail.forgetDirectories();
      const b = jail.openParent('/usr/lib/x.so', { trustLink: trust });
      b.dir.close();
      expect(b.dir.jailPath).toBe('/usr/lib64');
      // The forgotten descriptor stays open until the hold ends (a step in flight may be using it).
      expect(fs.fstatSync(a.dir.fd).isDirectory()).toBe(true);
    } finally {
      release();
    }
  });
});
