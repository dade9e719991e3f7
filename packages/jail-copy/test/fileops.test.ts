/**
 * Confined file operations: with links planted at every level, absolute and relative, each operation
 * either refuses with JailEscapeError naming the link or (at the final component) replaces the link
 * itself — and nothing outside JAIL is created or modified. Modes are exact whatever the umask;
 * setuid/setgid bits are stripped unless asked for; only regular files are copied; a copy killed
 * half-way leaves only a `.elfcopy-tmp-*` entry, which the next run clears.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnreadableFileError } from '@elfcopy/elf-deps';
import { JailConflictError, JailEscapeError } from '../src/errors.js';
import { StagingDirs, cleanupTemps, ensureDir, isUpToDate, removeEntry, symlinkAtomic, writeFileAtomic, writeJailContent } from '../src/copy/fileops.js';
import { Jail, type TrustLink } from '../src/confine/inroot.js';
import { CopyWorkers } from '../src/copy/copy-workers.js';
import { requireRoot, sha256File, snapshot, stagingLeftovers, tempDir } from './helpers/jail.js';

const tmp = tempDir('fileops');
/** The sentinel: a directory outside every jail that planted links point into. */
const outside = path.join(tmp, 'outside');
const outsideFile = path.join(outside, 'passwd-copy-outside');
const small = path.join(tmp, 'small-source');
const big = path.join(tmp, 'big-source');
const BIG_MIB = 200;
/** A name no host directory has: a write that escaped would show as this name on the host. */
const NAME = `libelfcopy-test-${process.pid}.so`;
const LIBDIR = '/usr/lib/x86_64-linux-gnu';
const META = { mode: 0o644, uid: 0, gid: 0 };
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  requireRoot();
  fs.mkdirSync(path.join(outside, 'lib'), { recursive: true });
  fs.writeFileSync(outsideFile, 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
  fs.writeFileSync(small, 'a small library\n', { mode: 0o755 });
  // Real data, not a sparse file: the copy must take long enough to be caught half-way.
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
  const fd = fs.openSync(big, 'w', 0o644);
  for (let i = 0; i < BIG_MIB; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
});

let count = 0;
function newJail(): string {
  const j = path.join(tmp, `jail-${++count}`);
  fs.mkdirSync(j, { mode: 0o755 });
  return j;
}

const mk = (j: string, p: string): void => void fs.mkdirSync(path.join(j, p), { recursive: true });
const ln = (target: string, j: string, p: string): void => fs.symlinkSync(target, path.join(j, p));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

/** The sentinel tree, its own inode, and the host directories a write through `usr -> /` would reach. */
function outsideState(): string[] {
  const hostDirs = ['/', '/usr', '/usr/lib', LIBDIR, '/lib', '/x86_64-linux-gnu'];
  const line = (p: string): string => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    return st ? `${p} ${st.ino} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.ctimeMs}` : `${p} absent`;
  };
  return [...snapshot(outside), line(outside), line(outsideFile), ...hostDirs.map(line), ...[LIBDIR, '/lib/x86_64-linux-gnu', '/x86_64-linux-gnu'].map((d) => line(path.join(d, NAME)))];
}

interface PlantCase {
  name: string;
  plant: (jail: string) => void;
  /** The link every operation must refuse, or 'final': the link at the final component is replaced. */
  refused: { link: string; target: string } | 'final';
}

const cases: PlantCase[] = [
  { name: 'JAIL/usr -> /', plant: (j) => ln('/', j, 'usr'), refused: { link: '/usr', target: '/' } },
  {
    name: 'JAIL/usr/lib -> ../../../../ (relative, to the host root)',
    plant: (j) => (mk(j, 'usr'), ln('../../../../', j, 'usr/lib')),
    refused: { link: '/usr/lib', target: '../../../../' },
  },
  {
    name: `JAIL${LIBDIR} -> the sentinel (absolute)`,
    plant: (j) => (mk(j, 'usr/lib'), ln(outside, j, LIBDIR.slice(1))),
    refused: { link: LIBDIR, target: outside },
  },
  {
    name: `JAIL${LIBDIR} -> ../../../outside (relative, into the sentinel)`,
    plant: (j) => (mk(j, 'usr/lib'), ln('../../../outside', j, LIBDIR.slice(1))),
    refused: { link: LIBDIR, target: '../../../outside' },
  },
  {
    name: `final component: JAIL${LIBDIR}/${NAME} -> the sentinel's file (absolute)`,
    plant: (j) => (mk(j, LIBDIR), ln(outsideFile, j, `${LIBDIR}/${NAME}`)),
    refused: 'final',
  },
  {
    name: `final component: JAIL${LIBDIR}/${NAME} -> ../../../../outside/passwd-copy-outside (relative)`,
    plant: (j) => (mk(j, LIBDIR), ln('../../../../outside/passwd-copy-outside', j, `${LIBDIR}/${NAME}`)),
    refused: 'final',
  },
];

type Op = (jail: Jail) => Promise<unknown>;
const target = `${LIBDIR}/${NAME}`;
const ops: Record<string, Op> = {
  ensureDir: (jail) => ensureDir(jail, target, { mode: 0o755, uid: 0, gid: 0 }),
  'ensureDir below': (jail) => ensureDir(jail, `${LIBDIR}/sub-${process.pid}/deeper`, { mode: 0o755, uid: 0, gid: 0 }),
  writeFileAtomic: (jail) => writeFileAtomic(jail, target, small, META),
  symlinkAtomic: (jail) => symlinkAtomic(jail, target, 'libx.so.1'),
  removeEntry: (jail) => removeEntry(jail, target),
  isUpToDate: (jail) => isUpToDate(jail, target, outsideFile),
  cleanupTemps: async (jail) => cleanupTemps(jail, LIBDIR),
};

/** A host file with the setuid and setgid bits (mode 6755), named NAME in the test's directory. */
function setuidScript(name: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, '#!/bin/sh\n');
  fs.chmodSync(p, 0o6755);
  return p;
}
describe('links planted in the jail never lead an operation outside it', () => {
  for (const c of cases) {
    for (const [opName, op] of Object.entries(ops)) {
      it(`${c.name}: ${opName}`, async () => {
        const j = newJail();
        c.plant(j);
        const before = outsideState();
        const jail = Jail.open(j);
        if (c.refused !== 'final' || opName === 'ensureDir') {
          const err = await rejection(op(jail));
          expect(err).toBeInstanceOf(JailEscapeError);
          const want = c.refused === 'final' ? { link: target, target: fs.readlinkSync(path.join(j, target)) } : c.refused;
          expect({ link: (err as JailEscapeError).link, target: (err as JailEscapeError).target }).toEqual(want);
        } else {
          const r = await op(jail);
          const st = fs.lstatSync(path.join(j, target), { throwIfNoEntry: false });
          if (opName === 'writeFileAtomic') expect(st?.isFile() && st.nlink === 1 && fs.readFileSync(path.join(j, target), 'utf8')).toBe('a small library\n');
          if (opName === 'symlinkAtomic') expect([r, fs.readlinkSync(path.join(j, target))]).toEqual(['replaced', 'libx.so.1']);
          if (opName === 'removeEntry') expect([r, st]).toEqual([true, undefined]);
          if (opName === 'isUpToDate') expect(r).toBe(false);
        }
        expect(outsideState()).toEqual(before);
        expect(stagingLeftovers(j)).toEqual([]);
      });
    }
  }

  it('a final component hard-linked to an outside file is replaced, never written through, and never counts as up to date', async () => {
    const j = newJail();
    mk(j, LIBDIR);
    fs.linkSync(outsideFile, path.join(j, target));
    // The outside file's own ctime moves when its second name goes; everything else must not.
    const others = (): string[] => outsideState().filter((l) => !l.startsWith(`${outsideFile} `));
    const before = others();
    const content = fs.readFileSync(outsideFile);
    const jail = Jail.open(j);
    // Same inode as the source: same size, same mtime; only the second name gives it away.
    expect(await isUpToDate(jail, target, outsideFile)).toBe(false);
    await writeFileAtomic(jail, target, small, META);
    expect(fs.readFileSync(outsideFile).equals(content)).toBe(true);
    expect(fs.statSync(outsideFile).nlink).toBe(1);
    expect(fs.readFileSync(path.join(j, target), 'utf8')).toBe('a small library\n');
    expect(others()).toEqual(before);
  });
});

describe('trusted links: the mirror of the host link is followed, inside the jail', () => {
  it('JAIL/lib64 -> /lib/x86_64-linux-gnu (trusted): the write lands at JAIL/lib/x86_64-linux-gnu, not on the host', async () => {
    const j = newJail();
    mk(j, 'lib/x86_64-linux-gnu');
    ln('/lib/x86_64-linux-gnu', j, 'lib64');
    const trustLink: TrustLink = (link, to) => link === '/lib64' && to === '/lib/x86_64-linux-gnu';
    const before = outsideState();
    const jail = Jail.open(j);
    expect(await rejection(writeFileAtomic(jail, `/lib64/${NAME}`, small, META))).toBeInstanceOf(JailEscapeError);
    await writeFileAtomic(jail, `/lib64/${NAME}`, small, { ...META, trustLink });
    expect(fs.readFileSync(path.join(j, 'lib/x86_64-linux-gnu', NAME), 'utf8')).toBe('a small library\n');
    expect(await symlinkAtomic(jail, `/lib64/${NAME}.1`, NAME, { trustLink })).toBe('created');
    expect(fs.readlinkSync(path.join(j, 'lib/x86_64-linux-gnu', `${NAME}.1`))).toBe(NAME);
    expect(await isUpToDate(jail, `/lib64/${NAME}`, small, { trustLink })).toBe(true);
    expect(outsideState()).toEqual(before);
  });

  it('JAIL/var/run -> /run (trusted): ensureDir makes JAIL/run and the directory below it', async () => {
    const j = newJail();
    mk(j, 'var');
    ln('/run', j, 'var/run');
    const sub = `elfcopy-test-${process.pid}`;
    const created = await ensureDir(Jail.open(j), `/var/run/${sub}`, { mode: 0o711, uid: 0, gid: 0, trustLink: (l, t) => l === '/var/run' && t === '/run' });
    expect(created).toBe(true);
    expect((fs.lstatSync(path.join(j, 'run', sub)).mode & 0o7777).toString(8)).toBe('711');
    expect(fs.existsSync(path.join('/run', sub))).toBe(false);
  });
});

describe('modes and owners: exact, whatever the umask', () => {
  let oldUmask = 0;
  beforeAll(() => {
    oldUmask = process.umask(0o077);
  });
  afterEach(() => void process.umask(0o077));
  afterAll(() => void process.umask(oldUmask));

  it('ensureDir: created directories get their mode exactly under umask 077 (0755 above, the asked mode and owner for the last)', async () => {
    const j = newJail();
    const jail = Jail.open(j);
    expect(await ensureDir(jail, '/srv/www', { mode: 0o2750, uid: 1234, gid: 5678 })).toBe(true);
    expect(await ensureDir(jail, '/tmp', { mode: 0o1777, uid: 0, gid: 0 })).toBe(true);
    const meta = (p: string): string => {
      const st = fs.lstatSync(path.join(j, p));
      return `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    };
    expect([meta('srv'), meta('srv/www'), meta('tmp')]).toEqual(['755 0:0', '2750 1234:5678', '1777 0:0']);
  });

  it('ensureDir: an existing directory keeps its mode and owner unless forced', async () => {
    const j = newJail();
    mk(j, 'etc');
    fs.chmodSync(path.join(j, 'etc'), 0o700);
    const jail = Jail.open(j);
    expect(await ensureDir(jail, '/etc', { mode: 0o755, uid: 0, gid: 0 })).toBe(false);
    expect(fs.statSync(path.join(j, 'etc')).mode & 0o7777).toBe(0o700);
    expect(await ensureDir(jail, '/etc', { mode: 0o755, uid: 7, gid: 8, force: true })).toBe(false);
    const st = fs.statSync(path.join(j, 'etc'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o755, 7, 8]);
  });

  it('ensureDir: a file or a FIFO in the way is a JailConflictError', async () => {
    const j = newJail();
    mk(j, 'usr');
    fs.writeFileSync(path.join(j, 'usr/lib'), '');
    execFileSync('mkfifo', [path.join(j, 'fifo')]);
    const jail = Jail.open(j);
    for (const p of ['/usr/lib', '/usr/lib/x', '/fifo']) {
      const err = await rejection(ensureDir(jail, p, { mode: 0o755, uid: 0, gid: 0 }));
      expect(err, p).toBeInstanceOf(JailConflictError);
    }
  });

  it('writeFileAtomic: the mode and owner asked for, exactly; the source\'s mtime', async () => {
    const j = newJail();
    mk(j, 'etc');
    const jail = Jail.open(j);
    await writeFileAtomic(jail, '/etc/a', small, { mode: 0o644, uid: 0, gid: 0 });
    await writeFileAtomic(jail, '/etc/b', small, { mode: 0o640, uid: 12, gid: 34 });
    const a = fs.statSync(path.join(j, 'etc/a'), { bigint: true });
    const b = fs.statSync(path.join(j, 'etc/b'));
    expect([(Number(a.mode) & 0o7777).toString(8), (b.mode & 0o7777).toString(8), b.uid, b.gid]).toEqual(['644', '640', 12, 34]);
    const src = fs.statSync(small, { bigint: true });
    expect(Number(a.mtimeNs - src.mtimeNs) / 1000).toBeLessThan(2);
    expect(Number(src.mtimeNs - a.mtimeNs) / 1000).toBeLessThan(2);
  });

  it('writeJailContent: the whole content, the exact mode and owner (setuid stripped), a link at the name replaced and not followed, no temporary left in the jail or on the host', async () => {
    const j = newJail();
    mk(j, 'etc');
    const outside = path.join(tmp, 'content-outside');
    fs.writeFileSync(outside, 'outside\n');
    fs.symlinkSync(outside, path.join(j, 'etc/linked'));
    const jail = Jail.open(j);
    // The host temporaries writeJailContent once staged its content in (elfcopy-write-*): none left.
    const tmpBefore = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('elfcopy-write-'));
    const big = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 5 }, (_, i) => (i * 13) & 0xff));
    await writeJailContent(jail, '/etc/text', 'hello\n', { mode: 0o4640, uid: 7, gid: 8 });
    await writeJailContent(jail, '/etc/big', big, { mode: 0o600, uid: 0, gid: 0 });
    await writeJailContent(jail, '/etc/linked', 'replaced\n', { mode: 0o644, uid: 0, gid: 0 });
    expect(fs.readFileSync(path.join(j, 'etc/text'), 'utf8')).toBe('hello\n');
    expect(fs.readFileSync(path.join(j, 'etc/big')).equals(big)).toBe(true);
    const st = fs.lstatSync(path.join(j, 'etc/text'));
    expect([(st.mode & 0o7777).toString(8), st.uid, st.gid]).toEqual(['640', 7, 8]);
    expect(fs.lstatSync(path.join(j, 'etc/linked')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(j, 'etc/linked'), 'utf8')).toBe('replaced\n');
    expect(fs.readFileSync(outside, 'utf8')).toBe('outside\n');
    expect(stagingLeftovers(j)).toEqual([]);
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('elfcopy-write-'))).toEqual(tmpBefore);
    mk(j, 'etc/dir');
    await expect(writeJailContent(jail, '/etc/dir', 'x', { mode: 0o644, uid: 0, gid: 0 })).rejects.toBeInstanceOf(JailConflictError);
    expect(stagingLeftovers(j)).toEqual([]);
  });

  it('writeFileAtomic through the worker lanes (applyPlan\'s copier): the same modes, owners, mtimes and bytes as on this thread', async () => {
    const j = newJail();
    mk(j, 'etc');
    const suid = setuidScript('suid-lanes');
    const jail = Jail.open(j);
    const copier = new CopyWorkers(4);
    try {
      const asked = [
        { p: '/etc/a', src: small, mode: 0o644, uid: 0, gid: 0 },
        { p: '/etc/b', src: small, mode: 0o640, uid: 12, gid: 34 },
        { p: '/etc/c', src: suid, mode: 0o6755, uid: 0, gid: 0 },
        { p: '/etc/d', src: '/usr/bin/true', mode: 0o755, uid: 5, gid: 6 },
      ];
      const done = await Promise.all(asked.map((a) => writeFileAtomic(jail, a.p, a.src, { mode: a.mode, uid: a.uid, gid: a.gid, copier })));
      expect(done.map((d) => d.strippedBits)).toEqual([0, 0, 0o6000, 0]);
      for (const a of asked) {
        const st = fs.statSync(path.join(j, a.p), { bigint: true });
        const src = fs.statSync(a.src, { bigint: true });
        expect([(Number(st.mode) & 0o7777).toString(8), Number(st.uid), Number(st.gid)], a.p).toEqual([(a.mode & ~0o6000).toString(8), a.uid, a.gid]);
        expect(Math.abs(Number(st.mtimeNs - src.mtimeNs)), a.p).toBeLessThan(2000);
        expect(sha256File(path.join(j, a.p)), a.p).toBe(sha256File(a.src));
      }
      expect(stagingLeftovers(j)).toEqual([]);
    } finally {
      await copier.close();
    }
  });

  it('writeFileAtomic: setuid and setgid bits are stripped unless asked for, and the result says which', async () => {
    const j = newJail();
    mk(j, 'bin');
    const suid = setuidScript('suid-source');
    const jail = Jail.open(j);
    const stripped = await writeFileAtomic(jail, '/bin/su', suid, { mode: 0o6755, uid: 0, gid: 0 });
    const kept = await writeFileAtomic(jail, '/bin/su-kept', suid, { mode: 0o4755, uid: 0, gid: 0, stripSetuid: false });
    expect([stripped.strippedBits, kept.strippedBits]).toEqual([0o6000, 0]);
    expect((fs.statSync(path.join(j, 'bin/su')).mode & 0o7777).toString(8)).toBe('755');
    expect((fs.statSync(path.join(j, 'bin/su-kept')).mode & 0o7777).toString(8)).toBe('4755');
  });
});

describe('writeFileAtomic: what it copies and what it leaves', () => {
  it('copies only regular files: a FIFO (without blocking), a device, a socket, a directory and a missing file are refused', async () => {
    const fifo = path.join(tmp, 'fifo-source');
    execFileSync('mkfifo', [fifo]);
    const sock = path.join(tmp, 'socket-source');
    const server = net.createServer();
    server.listen(sock);
    await once(server, 'listening');
    try {
      const j = newJail();
      mk(j, 'usr/lib');
      const jail = Jail.open(j);
      const kinds: string[] = [];
      for (const source of [fifo, '/dev/null', sock, tmp, path.join(tmp, 'no-such-file')]) {
        const err = await rejection(writeFileAtomic(jail, '/usr/lib/x', source, META));
        expect(err, source).toBeInstanceOf(UnreadableFileError);
        kinds.push((err as UnreadableFileError).kind);
      }
      expect(kinds).toEqual(['fifo', 'char-device', 'socket', 'directory', 'not-found']);
      expect(fs.readdirSync(path.join(j, 'usr/lib'))).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('a directory at the final name is a JailConflictError; it and its contents stay, no temporary stays', async () => {
    const j = newJail();
    mk(j, 'usr/lib/libx.so');
    fs.writeFileSync(path.join(j, 'usr/lib/libx.so/keep'), 'keep');
    const jail = Jail.open(j);
    const err = await rejection(writeFileAtomic(jail, '/usr/lib/libx.so', small, META));
    expect([err instanceof JailConflictError, (err as JailConflictError).found, (err as JailConflictError).needed]).toEqual([true, 'directory', 'file']);
    expect(await rejection(symlinkAtomic(jail, '/usr/lib/libx.so', 'x'))).toBeInstanceOf(JailConflictError);
    expect(fs.readFileSync(path.join(j, 'usr/lib/libx.so/keep'), 'utf8')).toBe('keep');
    expect(stagingLeftovers(j)).toEqual([]);
  });

  it('a directory made at the final name during the copy: JailConflictError, and the temporary is removed', async () => {
    const j = newJail();
    mk(j, 'usr/lib');
    const jail = Jail.open(j);
    const copy = rejection(writeFileAtomic(jail, '/usr/lib/big.so', big, META));
    await untilCopying(path.join(j, 'usr/lib'));
    fs.mkdirSync(path.join(j, 'usr/lib/big.so'));
    fs.writeFileSync(path.join(j, 'usr/lib/big.so/keep'), 'keep');
    expect(await copy).toBeInstanceOf(JailConflictError);
    expect(fs.readdirSync(path.join(j, 'usr/lib/big.so'))).toEqual(['keep']);
    expect(stagingLeftovers(j)).toEqual([]);
  });

  it('the parent directory swapped for a link to outside during the copy: the file still lands inside the jail', async () => {
    const j = newJail();
    mk(j, 'usr/lib');
    const before = outsideState();
    const jail = Jail.open(j);
    const copy = writeFileAtomic(jail, '/usr/lib/big.so', big, META);
    await untilCopying(path.join(j, 'usr/lib'));
    fs.renameSync(path.join(j, 'usr'), path.join(j, 'usr-moved'));
    fs.symlinkSync(outside, path.join(j, 'usr'));
    await copy;
    expect(fs.statSync(path.join(j, 'usr-moved/lib/big.so')).size).toBe(BIG_MIB << 20);
    expect(outsideState()).toEqual(before);
  });

  it('a copy killed with SIGKILL half-way leaves no file at the final path; the next run completes it and cleanupTemps clears the temporary', async () => {
    const j = newJail();
    mk(j, 'usr/lib');
    const bundle = await bundleForChild();
    const script = `const m = await import(${JSON.stringify(bundle)}); await m.writeFileAtomic(m.Jail.open(${JSON.stringify(j)}), '/usr/lib/big.so', ${JSON.stringify(big)}, { mode: 0o644, uid: 0, gid: 0 }); process.stdout.write('done');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    const partial = await untilCopying(path.join(j, 'usr/lib'), 30_000);
    child.kill('SIGKILL');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect([code, signal]).toEqual([null, 'SIGKILL']);
    expect(fs.existsSync(path.join(j, 'usr/lib/big.so'))).toBe(false);
    const left = stagingLeftovers(j);
    expect(left.length).toBeGreaterThan(0);
    expect(fs.statSync(partial).size).toBeLessThan(BIG_MIB << 20);

    const jail = Jail.open(j);
    await writeFileAtomic(jail, '/usr/lib/big.so', big, META);
    expect(sha256File(path.join(j, 'usr/lib/big.so'))).toBe(sha256File(big));
    const removed = cleanupTemps(jail, '/usr/lib');
    expect(removed).toEqual(left.filter((p) => path.posix.dirname(p) === '/usr/lib'));
    expect(stagingLeftovers(j)).toEqual([]);
    expect(await isUpToDate(jail, '/usr/lib/big.so', big)).toBe(true);
  });
});

describe('symlinkAtomic and removeEntry', () => {
  it('symlinkAtomic: created, then unchanged for the same target, replaced for another; replaces a file too', async () => {
    const j = newJail();
    mk(j, 'lib');
    fs.writeFileSync(path.join(j, 'lib/file'), 'x');
    const jail = Jail.open(j);
    expect(await symlinkAtomic(jail, '/lib/libc.so', 'libc.so.6')).toBe('created');
    const link = fs.lstatSync(path.join(j, 'lib/libc.so')).ino;
    expect(await symlinkAtomic(jail, '/lib/libc.so', 'libc.so.6')).toBe('unchanged');
    expect(fs.lstatSync(path.join(j, 'lib/libc.so')).ino).toBe(link);
    expect(await symlinkAtomic(jail, '/lib/libc.so', 'libc-2.36.so')).toBe('replaced');
    expect(await symlinkAtomic(jail, '/lib/file', 'libc.so.6')).toBe('replaced');
    expect([fs.readlinkSync(path.join(j, 'lib/libc.so')), fs.readlinkSync(path.join(j, 'lib/file'))]).toEqual(['libc-2.36.so', 'libc.so.6']);
    expect(stagingLeftovers(j)).toEqual([]);
  });

  it('removeEntry: a file or a link itself; a directory only when asked (empty with `directory`, all of it with `recursive`), never through its links', async () => {
    const j = newJail();
    mk(j, 'd/sub');
    fs.writeFileSync(path.join(j, 'd/sub/f'), 'x');
    ln(outside, j, 'd/out');
    ln(outsideFile, j, 'link');
    mk(j, 'empty');
    const before = outsideState();
    const jail = Jail.open(j);
    expect(await removeEntry(jail, '/link')).toBe(true);
    expect(await removeEntry(jail, '/d')).toBe(false);
    expect(await removeEntry(jail, '/d', { directory: true })).toBe(false);
    expect(await removeEntry(jail, '/empty', { directory: true })).toBe(true);
    expect(await removeEntry(jail, '/d', { recursive: true })).toBe(true);
    expect(await removeEntry(jail, '/missing/x')).toBe(false);
    expect(fs.readdirSync(j)).toEqual([]);
    expect(outsideState()).toEqual(before);
  });
});

describe('cleanupTemps', () => {
  it('removes what dead runs left, spares the temporaries of a live process', async () => {
    const j = newJail();
    mk(j, 'lib');
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const dead = spawn('true', [], { stdio: 'ignore' });
      await once(dead, 'exit');
      const live = `.elfcopy-tmp-${sleeper.pid ?? 0}-aaaa`;
      const stale = `.elfcopy-tmp-${dead.pid ?? 0}-bbbb`;
      mk(j, `lib/${live}`);
      mk(j, `lib/${stale}/f-1`);
      ln(outside, j, `lib/${stale}/f-1/out`);
      ln(outside, j, 'lib/.elfcopy-tmp-cccc');
      const before = outsideState();
      expect(cleanupTemps(Jail.open(j), '/lib').sort()).toEqual([`/lib/.elfcopy-tmp-cccc`, `/lib/${stale}`].sort());
      expect(fs.readdirSync(path.join(j, 'lib'))).toEqual([live]);
      expect(outsideState()).toEqual(before);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('a shared StagingDirs keeps one staging directory per target directory and removes them all', async () => {
    const j = newJail();
    mk(j, 'a');
    mk(j, 'b');
    const jail = Jail.open(j);
    const staging = new StagingDirs();
    await Promise.all(['/a/1', '/a/2', '/b/1', '/a/3'].map((p) => writeFileAtomic(jail, p, small, { ...META, staging })));
    expect(stagingLeftovers(j).length).toBe(2);
    staging.cleanup();
    expect(stagingLeftovers(j)).toEqual([]);
    expect(fs.readdirSync(path.join(j, 'a')).sort()).toEqual(['1', '2', '3']);
  });
});

describe('isUpToDate: idempotence', () => {
  it('true right after a copy; false once the source is touched or changed, or the copy is chmod-ed away from `meta`', async () => {
    const j = newJail();
    mk(j, 'lib');
    const src = path.join(tmp, 'lib-source');
    fs.writeFileSync(src, 'version 1\n');
    const jail = Jail.open(j);
    await writeFileAtomic(jail, '/lib/libx.so', src, META);
    expect(await isUpToDate(jail, '/lib/libx.so', src)).toBe(true);
    expect(await isUpToDate(jail, '/lib/libx.so', src, { checksum: true })).toBe(true);
    expect(await isUpToDate(jail, '/lib/libx.so', src, { meta: META })).toBe(true);

    const st = fs.statSync(src);
    fs.utimesSync(src, st.atime, new Date(st.mtimeMs + 5000));
    expect(await isUpToDate(jail, '/lib/libx.so', src)).toBe(false);
    // Same size and mtime but other bytes: only the checksum sees it.
    fs.writeFileSync(src, 'version 2\n');
    // Seconds as numbers: a Date would round the mtime to the millisecond.
    fs.utimesSync(src, st.atimeMs / 1000, st.mtimeMs / 1000);
    expect(await isUpToDate(jail, '/lib/libx.so', src)).toBe(true);
    expect(await isUpToDate(jail, '/lib/libx.so', src, { checksum: true })).toBe(false);
    fs.writeFileSync(src, 'version 3, longer\n');
    expect(await isUpToDate(jail, '/lib/libx.so', src)).toBe(false);

    await writeFileAtomic(jail, '/lib/libx.so', src, META);
    expect(await isUpToDate(jail, '/lib/libx.so', src)).toBe(true);
    fs.chmodSync(path.join(j, 'lib/libx.so'), 0o4755);
    expect(await isUpToDate(jail, '/lib/libx.so', src, { meta: META })).toBe(false);
  });

  it('false for a link (even to the very source), a directory, a missing path', async () => {
    const j = newJail();
    mk(j, 'lib/dir');
    ln(small, j, 'lib/link');
    const jail = Jail.open(j);
    const r = await Promise.all(['/lib/link', '/lib/dir', '/lib/none', '/none/x'].map((p) => isUpToDate(jail, p, small)));
    expect(r).toEqual([false, false, false, false]);
  });
});

/**
 * Waits until a copy is under way in `dir`: a staging directory holding a temporary with some bytes
 * in it. Returns that temporary's host path. Polls without yielding to other work for long, so the
 * caller acts while the copy (200 MiB, a few hundred ms) is still running.
 */
async function untilCopying(dir: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const s of fs.readdirSync(dir).filter((n) => n.startsWith('.elfcopy-tmp-'))) {
      const stage = path.join(dir, s);
      let names: string[] = [];
      try {
        names = fs.readdirSync(stage);
      } catch {
        continue;
      }
      for (const n of names) {
        const st = fs.statSync(path.join(stage, n), { throwIfNoEntry: false });
        if (st && st.size > 0) return path.join(stage, n);
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`no copy under way in ${dir} within ${timeoutMs} ms`);
}

let bundled: string | undefined;
/** inroot.ts and fileops.ts bundled for a plain `node` child (no TypeScript loader there). */
async function bundleForChild(): Promise<string> {
  if (bundled) return bundled;
  const srcDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const out = path.join(tmp, 'child-bundle.mjs');
  await build({
    stdin: { contents: "export * from './confine/inroot.ts'; export * from './copy/fileops.ts';", resolveDir: srcDir, loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    logLevel: 'silent',
  });
  bundled = out;
  return out;
}
