/**
 * `initJail`: everything `elfcopy init` does, as one call — plan the skeleton, check or make the jail
 * directory, apply the plan (the manifest records init as the installer). The CLI parses its
 * arguments, calls this and formats what it returns.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyPlan, type ApplyResult } from '../copy/apply.js';
import { BadJailError } from '../errors.js';
import { planInit, type InitOptions, type InitPlan } from '../tools/init.js';

export interface InitJailOptions extends InitOptions {
  /** Compute and return the plan, change nothing (no jail directory is made). */
  dryRun?: boolean;
}

export interface InitJailResult {
  plan: InitPlan;
  /** Undefined for a dry run. */
  applied?: ApplyResult;
}

export interface InitJailEvents {
  /** The plan is known, before the jail is checked or touched: report its warnings now. */
  onPlan?: (plan: InitPlan) => void;
}

export async function initJail(jail: string, options: InitJailOptions = {}, events: InitJailEvents = {}): Promise<InitJailResult> {
  const { dryRun, ...initOptions } = options;
  const abs = path.resolve(jail);
  // Plan first: a refused account must not leave an empty jail directory behind.
  const plan = planInit(abs, initOptions);
  events.onPlan?.(plan);
  if (fs.existsSync(abs)) {
    const real = fs.realpathSync(abs);
    if (real === '/') throw new BadJailError(jail, 'refusing to use / as a jail');
    if (!fs.statSync(real).isDirectory()) throw new BadJailError(jail, 'not a directory');
  } else if (!dryRun) {
    makeJailDir(abs, jail);
  }
  if (dryRun) return { plan };
  const applied = await applyPlan(plan.steps, abs, { generator: 'elfcopy init', installer: 'init', ...(initOptions.root ? { root: initOptions.root } : {}) });
  return { plan, applied };
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
 * child, EEXIST for the parent, and again); a path that cannot be a jail is one line, naming it.
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
    throw new BadJailError(jail, `cannot be made a jail (${p}: ${MKDIR_REASONS[code ?? ''] ?? code ?? 'mkdir failed'})`);
  }
}
