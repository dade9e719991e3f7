/** `elfcopy init JAIL`: plan the skeleton, print it or apply it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  else if (typeof opts.nsswitch === 'string') o.nsswitch = fs.readFileSync(opts.nsswitch, 'utf8');
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
    fs.mkdirSync(abs, { recursive: true, mode: 0o755 });
  }
  if (opts.dryRun) {
    stdout.write(formatPlan(plan.steps));
    return EXIT_OK;
  }
  const r = await applyPlan(plan.steps, abs, { generator: 'elfcopy init', installer: 'init', ...(opts.root ? { root: opts.root } : {}) });
  report.info(`elfcopy init: ${r.dirsCreated.length} directories, ${r.devices.length} device nodes, ${r.written.length + r.copied.length} files, ${r.linked.length} links, ${r.unchanged} unchanged`);
  return EXIT_OK;
}
