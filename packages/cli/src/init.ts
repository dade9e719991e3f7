/** `elfcopy init JAIL`: plan the skeleton, print it or apply it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteSource } from '@elfcopy/elf-deps/internal';
import { applyPlan, planInit, type InitOptions } from '@elfcopy/jail-copy';
import { EXIT_OK } from './exit-codes.js';
import { formatPlan } from './copy.js';
import type { Reporter } from './report.js';
import { UsageError } from './usage-error.js';

export interface InitCliOptions {
  user?: string[];
  writable?: string[];
  etc?: string;
  nsswitch?: string | boolean;
  devices?: boolean;
  dryRun?: boolean;
  root?: string;
}

export async function runInit(jail: string, opts: InitCliOptions, report: Reporter, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  const abs = path.resolve(jail);
  const o: InitOptions = {};
  if (opts.root) o.root = opts.root;
  if (opts.user) o.users = opts.user.flatMap((u) => u.split(',')).filter(Boolean);
  if (opts.writable) o.writable = opts.writable;
  if (opts.etc !== undefined) o.etc = opts.etc === 'none' ? [] : opts.etc.split(',').filter(Boolean);
  if (opts.nsswitch === false) o.nsswitch = false;
  else if (typeof opts.nsswitch === 'string') o.nsswitch = readConfig(opts.nsswitch, '--nsswitch');
  if (opts.devices === false) o.devices = false;
  if (o.devices !== false && process.getuid?.() !== 0 && !opts.dryRun) {
    throw new UsageError('init makes device nodes, which needs root (run as root, or pass --no-devices)');
  }
  // Plan first: a refused account must not leave an empty jail directory behind.
  const plan = planInit(abs, o);
  for (const w of plan.warnings) report.warn(w);
  if (fs.existsSync(abs)) {
    const real = fs.realpathSync(abs);
    if (real === '/') throw new UsageError(`${jail}: refusing to use / as a jail`);
    if (!fs.statSync(real).isDirectory()) throw new UsageError(`${jail}: not a directory`);
  } else if (!opts.dryRun) {
    makeJailDir(abs, jail);
  }
  if (opts.dryRun) {
    stdout.write(formatPlan(plan.steps));
    return EXIT_OK;
  }
  const r = await applyPlan(plan.steps, abs, { generator: 'elfcopy init', installer: 'init', ...(opts.root ? { root: opts.root } : {}) });
  report.info(`elfcopy init: ${r.dirsCreated.length} directories, ${r.devices.length} device nodes, ${r.written.length + r.copied.length} files, ${r.linked.length} links, ${r.unchanged} unchanged`);
  return EXIT_OK;
}

/** Bound for a configuration file given on the command line: nsswitch.conf is a few hundred bytes. */
const MAX_CONFIG = 1 << 20;

/**
 * A file the user names, read as elf-deps reads every file: typed errors (missing, a directory, a FIFO —
 * refused by type before open() could block), never a raw errno that would read as an internal error.
 */
function readConfig(file: string, option: string): string {
  const src = ByteSource.open(file);
  try {
    if (src.size > MAX_CONFIG) throw new UsageError(`${option} ${file}: ${src.size} bytes is more than a configuration file holds`);
    return src.read(0, src.size, option).toString('utf8');
  } finally {
    src.close();
  }
}

const MKDIR_REASONS: Readonly<Record<string, string>> = {
  EEXIST: 'exists and is not a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many levels of symbolic links (a symlink loop)',
  ENOENT: 'no such directory, and none can be made there',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

/**
 * mkdir -p, one component at a time. Node's recursive mkdir never ends under /proc (ENOENT for the
 * child, EEXIST for the parent, and again); a path that cannot be a jail is a usage error, one line.
 */
function makeJailDir(abs: string, jail: string): void {
  const parts = abs.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = '/' + parts.slice(0, i).join('/');
    let code: string | undefined;
    try {
      fs.mkdirSync(p, { mode: 0o755 });
      continue;
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
    }
    if (code === 'EEXIST') {
      try {
        if (fs.statSync(p).isDirectory()) continue;
      } catch (err) {
        code = (err as NodeJS.ErrnoException).code;
      }
    }
    throw new UsageError(`${jail}: cannot be made a jail (${p}: ${MKDIR_REASONS[code ?? ''] ?? code ?? 'mkdir failed'})`);
  }
}
