/**
 * `elfcopy init JAIL`: the skeleton the article builds by hand — /dev with the four safe devices, /etc
 * essentials and a jail nsswitch.conf, accounts without root, the merged-/usr links of the host, and
 * runtime directories owned by service users where asked. A plan, like the copy.
 */
import * as path from 'node:path';
import { ElfDepsError, SysRoot } from '@elfcopy/elf-deps';
import { ALLOWED_DEVICES } from './audit.js';
import { mirrorSteps, StepSet, type PlanStep } from '../copy/plan.js';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** Group name (default: the account's name). */
  group?: string;
  home?: string;
}

export interface InitOptions {
  /** Host root to read /etc and the /usr layout from (default '/'). */
  root?: string;
  /** /etc files to copy from the host (default ESSENTIAL_ETC). */
  etc?: string[];
  /** Write a jail nsswitch.conf (default: MINIMAL_NSSWITCH); false keeps whatever is there. */
  nsswitch?: string | false;
  /** Accounts: `name` (the host's ids) or `name:uid:gid`. */
  users?: string[];
  /** `user:/dir,/dir` — directories created and owned by that user (mode 0750). */
  writable?: string[];
  /** Make device nodes (needs root). Default true. */
  devices?: boolean;
}

export const ESSENTIAL_ETC = ['localtime', 'hosts', 'host.conf', 'resolv.conf', 'services', 'protocols'];

/**
 * The host's `files systemd` would pull modules that cannot work in a jail (no D-Bus, no systemd):
 * a jail resolves accounts from its own files and hosts through files then DNS.
 */
export const MINIMAL_NSSWITCH = `# written by elfcopy init: accounts from the jail's own files, hosts from files then DNS
passwd:     files
group:      files
shadow:     files
gshadow:    files
hosts:      files dns
networks:   files
protocols:  files
services:   files
ethers:     files
rpc:        files
netgroup:   files
`;

export class InitError extends ElfDepsError {
  override name = 'InitError';
}

export interface InitPlan {
  jail: string;
  steps: PlanStep[];
  accounts: Account[];
  warnings: string[];
}

/** A `--writable` directory and the account that owns it. */
export interface WritableDir {
  user: string;
  /** Absolute, normalised, in-jail path. */
  dir: string;
}

/**
 * Directories a service must never be able to write: they hold the jail's programs, libraries and
 * configuration (or the kernel's views), so a writable one lets the service replace what root runs.
 */
const SYSTEM_DIRS: readonly { test: (p: string) => boolean; why: string }[] = [
  { test: (p) => p === '/', why: "it is the jail's root" },
  { test: (p) => p === '/etc' || p.startsWith('/etc/'), why: '/etc and below hold the configuration root reads' },
  { test: (p) => p === '/usr' || p.startsWith('/usr/'), why: "/usr and below hold the jail's programs and libraries" },
  { test: (p) => /^\/(bin|sbin|lib[^/]*)(\/|$)/.test(p), why: "/bin, /sbin and /lib* hold the jail's programs and libraries" },
  { test: (p) => /^\/(dev|proc|sys)(\/|$)/.test(p), why: '/dev, /proc and /sys are the kernel\'s' },
];

/**
 * `USER:/dir[,/dir…]` specs (each repeatable; an element may name its own `USER:`, as in
 * `www-data:/var/lib/nginx,redis:/var/lib/redis`) as directories. Refuses (InitError, the CLI's exit 2) a
 * directory that is relative, climbs with `..`, is / or a system directory: such a value was either a
 * typo (`nobody:var/log` would be made at /var/log by accident) or a hole in the jail.
 */
export function parseWritable(specs: readonly string[]): WritableDir[] {
  const out: WritableDir[] = [];
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    const user = spec.slice(0, Math.max(0, colon));
    if (colon <= 0 || user.includes('/')) throw new InitError(spec, '--writable takes USER:/dir[,/dir…]');
    let owner = user;
    for (const element of spec.slice(colon + 1).split(',')) {
      // `USER:` before an element switches the owner for it and those after it.
      const named = /^([^/:]+):(.*)$/.exec(element);
      if (named) owner = named[1] ?? owner;
      const d = named ? (named[2] ?? '') : element;
      if (d === '') continue;
      if (d.split('/').includes('..')) throw new InitError(d, "--writable directory must not climb with '..'");
      if (!d.startsWith('/')) throw new InitError(d, `--writable directory must be an absolute path inside the jail (as in ${owner}:/${d})`);
      const dir = path.posix.normalize(d).replace(/(.)\/+$/, '$1');
      const system = SYSTEM_DIRS.find((s) => s.test(dir));
      if (system) throw new InitError(d, `refusing a writable system directory: ${system.why}`);
      out.push({ user: owner, dir });
    }
  }
  return out;
}

/** The account files whose host copies hold root (and, for shadow, its password hash). */
const ACCOUNT_FILES: ReadonlyMap<string, 'passwd' | 'group' | 'shadow' | 'gshadow'> = new Map([
  ['/etc/passwd', 'passwd'],
  ['/etc/passwd-', 'passwd'],
  ['/etc/group', 'group'],
  ['/etc/group-', 'group'],
  ['/etc/shadow', 'shadow'],
  ['/etc/shadow-', 'shadow'],
  ['/etc/gshadow', 'gshadow'],
  ['/etc/gshadow-', 'gshadow'],
]);

/** `line N (name)` for each uid 0 / gid 0 entry of an account file as the host has it. */
function rootEntries(root: SysRoot, file: string, kind: 'passwd' | 'group' | 'shadow' | 'gshadow'): string[] {
  const rows = (text: string | undefined): string[][] => (text ?? '').split('\n').map((l) => l.split(':'));
  // shadow and gshadow carry names only: the names passwd and group give uid 0 or gid 0 (root always).
  const rootUsers = new Set(['root', ...rows(root.readText('/etc/passwd')).filter((r) => r[2] === '0' || r[3] === '0').map((r) => r[0] ?? '')]);
  const rootGroups = new Set(['root', ...rows(root.readText('/etc/group')).filter((r) => r[2] === '0').map((r) => r[0] ?? '')]);
  const isRoot = (r: string[]): boolean => {
    switch (kind) {
      case 'passwd':
        return r.length >= 4 && (r[2] === '0' || r[3] === '0');
      case 'group':
        return r.length >= 3 && r[2] === '0';
      case 'shadow':
        return r.length >= 2 && rootUsers.has(r[0] ?? '');
      case 'gshadow':
        return r.length >= 2 && rootGroups.has(r[0] ?? '');
    }
  };
  return rows(root.readText(file)).flatMap((r, i) => (isRoot(r) ? [`line ${i + 1} (${r[0] ?? ''})`] : []));
}

function parseAccounts(root: SysRoot, specs: readonly string[]): Account[] {
  const passwd = (root.readText('/etc/passwd') ?? '').split('\n').map((l) => l.split(':'));
  const groups = (root.readText('/etc/group') ?? '').split('\n').map((l) => l.split(':'));
  return specs.map((spec) => {
    const [name, uidS, gidS] = spec.split(':');
    if (!name || !/^[a-z_][a-z0-9_.-]*\$?$/i.test(name)) throw new InitError(spec, 'not a valid user name');
    let uid: number;
    let gid: number;
    let home = '/nonexistent';
    if (uidS !== undefined) {
      uid = Number(uidS);
      gid = Number(gidS ?? uidS);
    } else {
      const row = passwd.find((r) => r[0] === name);
      if (!row) throw new InitError(spec, `no such user on the host; give its ids as ${name}:UID:GID`);
      uid = Number(row[2]);
      gid = Number(row[3]);
      home = row[5] || home;
    }
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) throw new InitError(spec, 'uid and gid must be whole numbers');
    if (uid === 0 || gid === 0) throw new InitError(spec, 'a jail gets no uid 0 or gid 0 account');
    const group = groups.find((g) => Number(g[2]) === gid)?.[0] ?? name;
    return { name, uid, gid, group, home };
  });
}

export function planInit(jail: string, options: InitOptions = {}): InitPlan {
  const root = new SysRoot(options.root ?? '/');
  const steps = new StepSet();
  const warnings: string[] = [];
  const dir = (p: string, mode: number, uid = 0, gid = 0, reason = 'jail skeleton'): void =>
    steps.add({ op: 'mkdir', path: p, mode, uid, gid, enforce: true, reasons: [reason] });

  dir('/dev', 0o755);
  dir('/etc', 0o755);
  dir('/tmp', 0o1777, 0, 0, 'jail skeleton: world-writable with the sticky bit, as /tmp must be');
  dir('/run', 0o755);
  dir('/var', 0o755);
  dir('/var/log', 0o755);
  steps.add({ op: 'symlink', path: '/var/run', target: '/run', reasons: ['jail skeleton: /var/run is /run, as on the host'] });
  if (options.devices !== false) {
    for (const [p, [major, minor]] of ALLOWED_DEVICES) steps.add({ op: 'mknod', path: p, major, minor, mode: 0o666, reasons: ['jail skeleton: device node'] });
  }
  // The merged-/usr links of the host (/bin -> usr/bin, /lib -> usr/lib, …), so paths mirror it.
  for (const top of root.listDir('/') ?? []) {
    const st = root.lstat('/' + top);
    if (st?.isSymbolicLink() && /^(bin|sbin|lib|lib32|lib64|libx32)$/.test(top)) {
      mirrorSteps(root, '/' + top, 'merged /usr: the host has this link', {}, steps);
    }
  }
  for (const f of options.etc ?? ESSENTIAL_ETC) {
    const p = path.posix.join('/etc', f);
    if (!p.startsWith('/etc/') || p === '/etc/') throw new InitError(f, '--etc names files under /etc (a name that climbs out of it is refused)');
    // The article's rule, "root (UID 0) does not even exist within the jail": the host's account files
    // always hold root, so they are refused rather than copied or edited (the jail's accounts come from
    // --user, with locked shadow entries).
    const accounts = ACCOUNT_FILES.get(p);
    const rooted = accounts ? rootEntries(root, p, accounts) : [];
    if (rooted.length > 0) {
      throw new InitError(p, `--etc would copy the host's uid 0 / gid 0 entries, ${rooted.join(', ')}: a jail gets no root account; give its accounts with --user NAME`);
    }
    if (!mirrorSteps(root, p, `/etc essential: ${f}`, {}, steps)) warnings.push(`${p}: not on the host, not copied`);
  }
  if (options.nsswitch !== false) {
    steps.add({ op: 'write', path: '/etc/nsswitch.conf', content: options.nsswitch ?? MINIMAL_NSSWITCH, mode: 0o644, uid: 0, gid: 0, reasons: ['a jail nsswitch.conf: files (and dns for hosts) only'] });
  }
  const accounts = parseAccounts(root, options.users ?? []);
  const writable = parseWritable(options.writable ?? []);
  // A --writable owner is an account of the jail too: a directory owned by a uid the jail's passwd does
  // not know would confuse every tool inside.
  for (const { user } of writable) {
    if (!accounts.some((a) => a.name === user)) accounts.push(...parseAccounts(root, [user]));
  }
  if (accounts.length > 0) {
    const passwd = accounts.map((a) => `${a.name}:x:${a.uid}:${a.gid}:${a.name}:${a.home ?? '/nonexistent'}:/usr/sbin/nologin`).join('\n') + '\n';
    const groupRows = new Map<number, string>();
    for (const a of accounts) if (!groupRows.has(a.gid)) groupRows.set(a.gid, `${a.group ?? a.name}:x:${a.gid}:`);
    const group = [...groupRows.values()].join('\n') + '\n';
    // Locked entries: the host's shadow is never copied.
    const shadow = accounts.map((a) => `${a.name}:!:19000::::::`).join('\n') + '\n';
    const gshadow = [...groupRows.values()].map((g) => `${g.split(':')[0]}:!::`).join('\n') + '\n';
    steps.add({ op: 'write', path: '/etc/passwd', content: passwd, mode: 0o644, uid: 0, gid: 0, reasons: ['accounts: only those asked for, no uid 0'] });
    steps.add({ op: 'write', path: '/etc/group', content: group, mode: 0o644, uid: 0, gid: 0, reasons: ['groups of those accounts, no gid 0'] });
    steps.add({ op: 'write', path: '/etc/shadow', content: shadow, mode: 0o640, uid: 0, gid: 0, reasons: ['locked shadow entries'] });
    steps.add({ op: 'write', path: '/etc/gshadow', content: gshadow, mode: 0o640, uid: 0, gid: 0, reasons: ['locked gshadow entries'] });
  }
  for (const { user, dir: p } of writable) {
    const acct = accounts.find((a) => a.name === user);
    if (!acct) throw new InitError(user, `no account ${user}`);
    // Parents root-owned and not writable by others; the directory itself the service user's.
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const parent = '/' + parts.slice(0, i).join('/');
      if (!steps.byPath.has(parent)) {
        const hostSt = root.stat(parent);
        dir(parent, hostSt?.isDirectory() ? hostSt.mode & 0o755 : 0o755, 0, 0, `parent of writable ${p}`);
      }
    }
    dir(p, 0o750, acct.uid, acct.gid, `writable by ${user}`);
  }
  return { jail, steps: steps.ordered(), accounts, warnings };
}
