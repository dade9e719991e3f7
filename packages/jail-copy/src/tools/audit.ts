/**
 * `elfcopy audit JAIL`: the article's hardening list as checks. Each finding has a severity; the CLI
 * exits 1 when any is at or above --fail-on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SysRoot, hasElfMagic } from '@elfcopy/elf-deps';
import type { Finding, Severity } from '../findings.js';
import { climbsAboveRoot } from '../confine/inroot.js';
import { walkJail } from '../confine/walk.js';
import { manifestReasons, shellOnPurpose } from '../profiles/profile-checks.js';

export interface AuditOptions {
  /** Paths (in-jail) that service users may own or write: `/var/log/nginx`, `/run/php`, … (and below). */
  writable?: string[];
}

export interface AuditReport {
  jail: string;
  entries: number;
  findings: Finding[];
}

/** The device nodes a jail may hold (major, minor), as `elfcopy init` makes them. */
export const ALLOWED_DEVICES: ReadonlyMap<string, [number, number]> = new Map([
  ['/dev/null', [1, 3]],
  ['/dev/zero', [1, 5]],
  ['/dev/random', [1, 8]],
  ['/dev/urandom', [1, 9]],
]);

const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'csh', 'tcsh', 'fish', 'busybox', 'ash'];

const major = (rdev: number): number => Math.floor(rdev / 256) & 0xfff;
const minor = (rdev: number): number => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

function under(p: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => p === d || p.startsWith(d.endsWith('/') ? d : d + '/'));
}

/**
 * Who other than root can create, rename or replace entries in a directory of this mode and owner
 * (undefined: nobody). The sticky bit keeps others from replacing root's files, so /tmp 1777 is not.
 */
function writerOf(st: fs.Stats): string | undefined {
  const mode = st.mode & 0o7777;
  if (st.uid !== 0 && (mode & 0o200) !== 0) return `uid ${st.uid}`;
  if (st.gid !== 0 && (mode & 0o020) !== 0) return `gid ${st.gid}`;
  if ((mode & 0o002) !== 0 && (mode & 0o1000) === 0) return 'everyone';
  return undefined;
}

/**
 * A program or library, as elfcopy installs them: an ELF file (by magic, x bit or not). Scripts are left
 * out: a user's own (git's hook samples in a writable home) are that user's business.
 */
function isCode(host: string, st: fs.Stats): boolean {
  return st.isFile() && hasElfMagic(host);
}

/** The nearest directory at or above `p` (in the jail) that a service can write, with who can. */
function writableAncestor(root: SysRoot, p: string, cache: Map<string, string | null>): { dir: string; writer: string } | undefined {
  for (let dir = path.posix.dirname(p); ; dir = path.posix.dirname(dir)) {
    let writer = cache.get(dir);
    if (writer === undefined) {
      const st = root.lstat(dir);
      writer = st?.isDirectory() ? (writerOf(st) ?? null) : null;
      cache.set(dir, writer);
    }
    if (writer !== null) return { dir, writer };
    if (dir === '/') return undefined;
  }
}

/**
 * The hook a copy calls after installing `paths` (in-jail): one warning per service-writable directory
 * that now holds programs or libraries, since the service could replace what root runs there.
 */
export function writableCodeWarnings(jail: string, paths: readonly string[]): string[] {
  const root = new SysRoot(jail);
  const cache = new Map<string, string | null>();
  const byDir = new Map<string, { writer: string; files: string[] }>();
  for (const p of paths) {
    const w = writableAncestor(root, p, cache);
    if (!w) continue;
    const entry = byDir.get(w.dir) ?? { writer: w.writer, files: [] };
    entry.files.push(p);
    byDir.set(w.dir, entry);
  }
  return [...byDir].map(([dir, { writer, files }]) => `${dir}: writable by ${writer}, and holds ${files.length} program(s) or librar(ies) this copy installed (${files[0] ?? ''}${files.length > 1 ? ', …' : ''}): the service could replace them`);
}



export function auditJail(jail: string, options: AuditOptions = {}): AuditReport {
  const root = new SysRoot(jail);
  const writable = (options.writable ?? []).map((w) => path.posix.normalize('/' + w));
  const findings: Finding[] = [];
  const add = (rule: string, severity: Severity, p: string, message: string): void => void findings.push({ rule, severity, path: p, message });
  const inodes = new Map<string, number>();
  const multiLinked: { path: string; key: string; nlink: number }[] = [];
  let entries = 0;
  let reasons: Map<string, string[]> | undefined;

  const writerCache = new Map<string, string | null>();
  const codeIn = new Map<string, { writer: string; files: string[] }>();
  for (const e of walkJail(root.root)) {
    entries++;
    if (e.stat.isFile()) {
      // The magic test opens the file: only for files a service could replace.
      const w = writableAncestor(root, e.path, writerCache);
      if (w && isCode(e.host, e.stat)) {
        const entry = codeIn.get(w.dir) ?? { writer: w.writer, files: [] };
        entry.files.push(e.path);
        codeIn.set(w.dir, entry);
      }
    }
    const st = e.stat;
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(e.host);
      if (climbsAboveRoot(e.path, target)) add('symlink-out', 'high', e.path, `symlink to '${target}' climbs above the jail's root`);
      continue;
    }
    if (st.isFile()) {
      if (mode & 0o4000) add('setuid', 'high', e.path, 'setuid file');
      if (mode & 0o2000) add('setgid', 'high', e.path, 'setgid file');
      if (mode & 0o002) add('world-writable', 'high', e.path, `world-writable file (mode ${mode.toString(8)})`);
      if (SHELLS.includes(path.posix.basename(e.path)) && (mode & 0o111) !== 0) {
        const why = shellOnPurpose(root, e.path, (reasons ??= manifestReasons(root)));
        if (why) add('shell', 'low', e.path, `a shell, installed on purpose (${why})`);
        else add('shell', 'medium', e.path, 'a shell inside the jail (exec(), system() and an attacker can use it)');
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        inodes.set(key, (inodes.get(key) ?? 0) + 1);
        multiLinked.push({ path: e.path, key, nlink: st.nlink });
      }
      if ((st.uid !== 0 || st.gid !== 0) && !under(e.path, writable)) {
        add('not-root-owned', 'low', e.path, `owned by ${st.uid}:${st.gid}, not root, outside the writable list`);
      }
    } else if (st.isDirectory()) {
      if (mode & 0o002 && !(mode & 0o1000)) add('world-writable-dir', 'high', e.path, `world-writable directory without the sticky bit (mode ${mode.toString(8)})`);
      const serviceWritable = (st.uid !== 0 && (mode & 0o200) !== 0) || (st.gid !== 0 && (mode & 0o020) !== 0);
      if (serviceWritable && !under(e.path, writable)) {
        add('writable-dir', 'medium', e.path, `directory writable by ${st.uid !== 0 ? `uid ${st.uid}` : `gid ${st.gid}`}, outside the writable list`);
      }
      if ((st.uid !== 0 || st.gid !== 0) && !under(e.path, writable) && !serviceWritable) {
        add('not-root-owned', 'low', e.path, `owned by ${st.uid}:${st.gid}, not root, outside the writable list`);
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const allowed = ALLOWED_DEVICES.get(e.path);
      const ok = st.isCharacterDevice() && allowed !== undefined && allowed[0] === major(st.rdev) && allowed[1] === minor(st.rdev);
      if (!ok) add('device', 'high', e.path, `device node ${major(st.rdev)}:${minor(st.rdev)} (only null, zero, random, urandom belong in a jail)`);
    } else if (st.isFIFO() || st.isSocket()) {
      add('special-file', 'low', e.path, st.isFIFO() ? 'FIFO in the jail' : 'socket in the jail');
    }
  }
  // A hard link shares an inode with a file outside the jail when the jail holds fewer names than nlink.
  for (const m of multiLinked) {
    if ((inodes.get(m.key) ?? 0) < m.nlink) add('hard-link-out', 'medium', m.path, `hard link: ${m.nlink} names for this file, only ${inodes.get(m.key) ?? 0} inside the jail`);
  }
  // Listed in --writable or not: a directory a service can write must not hold what root runs.
  for (const [dir, { writer, files }] of codeIn) {
    add('writable-dir-holds-code', 'high', dir, `writable by ${writer} and holds ${files.length} program(s) or librar(ies) (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}): the service could replace them`);
  }
  checkAccounts(root, add);
  return { jail: root.root, entries, findings };
}

function checkAccounts(root: SysRoot, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const passwd = root.readText('/etc/passwd');
  for (const line of passwd?.split('\n') ?? []) {
    const f = line.split(':');
    if (f.length >= 4 && f[2] === '0') add('root-account', 'high', '/etc/passwd', `account '${f[0]}' has uid 0`);
  }
  const group = root.readText('/etc/group');
  for (const line of group?.split('\n') ?? []) {
    const f = line.split(':');
    if (f.length >= 3 && f[2] === '0') add('root-group', 'medium', '/etc/group', `group '${f[0]}' has gid 0`);
  }
  const shadow = root.readText('/etc/shadow');
  for (const line of shadow?.split('\n') ?? []) {
    const f = line.split(':');
    if (f.length >= 2 && f[1] !== undefined && f[1] !== '' && !f[1].startsWith('!') && !f[1].startsWith('*') && f[1] !== 'x') {
      add('password-hash', 'high', '/etc/shadow', `account '${f[0]}' has a password hash in the jail`);
    }
  }
}
