/** `elfcopy init JAIL`: parse, call initJail, print the plan (--dry-run) or the summary. */
import { ByteSource } from '@elfcopy/elf-deps/internal';
import { initJail, type InitOptions } from '@elfcopy/jail-copy';
import { EXIT_OK } from './exit-codes.js';
import { formatPlan } from './format/plan.js';
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
  const { plan, applied: r } = await initJail(jail, { ...o, ...(opts.dryRun ? { dryRun: true } : {}) }, { onPlan: (p) => p.warnings.forEach((w) => report.warn(w)) });
  if (!r) {
    stdout.write(formatPlan(plan.steps));
    return EXIT_OK;
  }
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
