/**
 * `copyIntoJail`: everything `elfcopy copy` does, as one call — trace (optional), plan with profiles,
 * reuse the last plan when nothing it was computed from changed, prune, apply, the jail's own
 * ld.so.cache, the writable-code check, and the plan cache for the next run. The CLI parses its
 * arguments, calls this and formats what it returns; an npm user gets the same run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ElfDepsError } from '@elfcopy/elf-deps';
import { machineKey } from '@elfcopy/elf-deps/internal';
// The plan-cache reader is all a run with nothing to do needs: planning, copying and hashing load
// only when there is work (import() below), which keeps such a run ~15 ms shorter.
import { planCacheKey, reusablePlan, type CachedPlan } from '../copy/plan-cache.js';
import type { ApplyResult } from '../copy/apply.js';
import type { PlanStep } from '../copy/plan.js';
import type { PrunePlan } from '../copy/prune.js';
import type { ProfilePlanOptions } from '../profiles/plan-profiles.js';
import { DEFAULTS } from '../defaults.js';

export interface CopyIntoJailOptions extends ProfilePlanOptions {
  /** Parallel copies (default DEFAULTS.jobs). */
  jobs?: number;
  /** Decide "up to date" by sha256 instead of size and mtime. */
  checksum?: boolean;
  /** Remove what an earlier run of these same inputs installed and no installer claims any more. */
  prune?: boolean;
  /** Compute and return the plan (and the prune), change nothing. */
  dryRun?: boolean;
  /** Write the jail's own ld.so.cache for the libraries copied (the plan's `ldcache` step). */
  ldcache?: boolean;
  /** A command to run on the host under strace first: what it loads joins the closure (argv). */
  trace?: string[];
  /**
   * Reuse the last plan when nothing it was computed from changed (plan-cache.ts): `build` names the
   * elfcopy build (a plan made by another is never reused). Off when absent, and never for what must
   * look at contents or outside the plan: checksum, trace, ldcache, dryRun.
   */
  planCache?: { build: string };
}

export interface CopyIntoJailEvents {
  /** Something to undo if the process is stopped now (staging directories, a traced process tree). */
  onCleanup?: (undo: () => void) => void;
  /** The plan is known (fresh or reused), before anything is applied: report it now. */
  onPlan?: (plan: CopyPlanReport) => void;
  /** After each step applied (a progress bar). */
  onStep?: (done: number, total: number) => void;
}

/** What the run decided, as a fresh or a reused plan reports it. */
export interface CopyPlanReport extends CachedPlan {
  /** Inputs that are not ELF, unreadable or malformed. */
  inputErrors: ElfDepsError[];
  planReused: boolean;
  /** What --trace saw fail or skip. */
  traceWarnings: string[];
  prune?: PrunePlan;
}

export interface CopyIntoJailResult {
  /**
   * How the run ended: the last plan reused (nothing to do), applied, a dry run, or refused because
   * the inputs were bad and nothing was left to copy.
   */
  outcome: 'reused' | 'applied' | 'dry-run' | 'bad-input';
  /** The jail as given (absolute). */
  jail: string;
  plan: CopyPlanReport;
  /** Undefined for a dry run, or when bad input left nothing to copy. */
  applied?: ApplyResult;
  /** Programs and libraries now in a directory a service can write (also in plan.warnings). */
  codeWarnings: string[];
}

export async function copyIntoJail(paths: readonly string[], jailDir: string, options: CopyIntoJailOptions = {}, events: CopyIntoJailEvents = {}): Promise<CopyIntoJailResult> {
  const jail = path.resolve(jailDir);
  const jailMissing = !fs.existsSync(jail);
  const traceWarnings: string[] = [];
  const extraElf = [...(options.extraElf ?? [])];
  if (options.trace !== undefined) {
    const label = options.trace.join(' ');
    const { traceCommand } = await import('../tools/trace.js');
    const t = await traceCommand(options.trace, events.onCleanup ? { onStart: events.onCleanup } : {});
    traceWarnings.push(...t.warnings);
    extraElf.push(...t.objects.map((o) => ({ path: o, reason: `loaded at run time by ${label}` })));
  }
  const { jobs, checksum, prune, dryRun, ldcache, trace, planCache, ...planOptions } = options;
  const profiles = planOptions.profiles;
  const cacheable = planCache !== undefined && !dryRun && !checksum && trace === undefined && !ldcache;
  const key = planCacheKey({
    build: planCache?.build,
    cwd: process.cwd(),
    user: [process.geteuid?.(), process.getegid?.()],
    // The CPU the model reads (this host's, or another's, after a vendor override): it decides $PLATFORM
    // and the legacy subdirectories even when hwcaps fixes the levels (a VM moved to another host differs).
    cpu: machineKey(planOptions.machine),
    paths,
    planOptions: { ...planOptions, profiles: undefined, gconvCharsets: undefined, extraFiles: undefined, extraElf: undefined },
    extraFiles: planOptions.extraFiles ?? [],
    profiles,
    profilesDir: process.env.ELFCOPY_PROFILES,
    gconvCharsets: planOptions.gconvCharsets,
    prune: Boolean(prune),
  });
  const reused = cacheable && !jailMissing ? reusablePlan(jail, key) : undefined;
  if (reused) {
    const report: CopyPlanReport = { ...reused, inputErrors: [], planReused: true, traceWarnings };
    events.onPlan?.(report);
    return { outcome: 'reused', jail, plan: report, applied: unchangedResult(jail, reused.steps), codeWarnings: [] };
  }

  const [{ applyPlan }, { asJailIoError }, { copyOwner }, { removeStaging }, { hostSignatures, savePlanCache }, { planCopyWithProfiles }, { planPrune }] = await Promise.all([
    import('../copy/apply.js'),
    import('../errors.js'),
    import('../copy/manifest.js'),
    import('../copy/fileops.js'),
    import('../copy/plan-cache.js'),
    import('../profiles/plan-profiles.js'),
    import('../copy/prune.js'),
  ]);
  events.onCleanup?.(removeStaging);
  const plan = planCopyWithProfiles(paths, jail, {
    ...planOptions,
    extraElf,
    ...(ldcache ? { writesLdCache: true } : {}),
    ...(cacheable ? { recordAccess: true } : {}),
  });
  const hostState = cacheable && plan.consulted ? hostSignatures(plan.consulted, plan.consultedListings ?? [], jail) : undefined;
  const missing = plan.missing.map((m) => ({ name: m.name, neededBy: m.neededBy, reason: m.reason, ...(m.detail !== undefined ? { detail: m.detail } : {}) }));
  const report: CopyPlanReport = {
    steps: plan.steps,
    missing,
    warnings: plan.warnings,
    profiles: plan.profiles,
    ...(plan.nss ? { nss: plan.nss } : {}),
    inputErrors: plan.inputErrors,
    planReused: false,
    traceWarnings,
  };
  const badInput = plan.inputErrors.length > 0;
  if (badInput && plan.steps.every((s) => s.op !== 'copy')) {
    events.onPlan?.(report);
    return { outcome: 'bad-input', jail, plan: report, codeWarnings: [] };
  }
  // This copy's installer in the manifest: its input set (a prune never removes another's files).
  const owner = copyOwner(paths.map((p) => (planOptions.root !== undefined ? path.posix.resolve('/', p) : path.resolve(p))), planOptions.root);
  if (prune) report.prune = planPrune(jail, owner.id, plan.steps, planOptions.root);
  events.onPlan?.(report);
  if (dryRun) return { outcome: 'dry-run', jail, plan: report, codeWarnings: [] };

  // Only now, with a plan that copies something: a run refused for bad input leaves no empty jail.
  if (jailMissing) createJail(jail, (err) => asJailIoError(err, jail, '/'));
  const applied = await applyPlan(plan.steps, jail, {
    jobs: jobs ?? DEFAULTS.jobs,
    checksum: Boolean(checksum),
    owner,
    ...(report.prune ? { prune: report.prune.remove } : {}),
    ...(planOptions.root ? { root: planOptions.root } : {}),
    ...(events.onStep ? { onStep: events.onStep } : {}),
  });
  // audit.ts: programs and libraries now in a directory a service can write (repeated when the plan is reused).
  const { writableCodeWarnings } = await import('../tools/audit.js');
  const codeWarnings = writableCodeWarnings(jail, plan.steps.flatMap((s) => (s.op === 'copy' ? [s.path] : [])));
  report.warnings = [...plan.warnings, ...codeWarnings];
  const cached: CachedPlan = { steps: report.steps, missing, warnings: report.warnings, profiles: report.profiles, ...(report.nss ? { nss: report.nss } : {}) };
  if (hostState && plan.consulted && !badInput) await savePlanCache(jail, key, cached, hostState, plan.consulted);
  return { outcome: 'applied', jail, plan: report, applied, codeWarnings };
}

/**
 * Makes the missing jail (its last component, mode 0755), once the plan is known to be good; what the
 * parent's file system refuses (read-only, full) is reported as `toIoError` says.
 */
function createJail(jail: string, toIoError: (err: unknown) => unknown): void {
  try {
    fs.mkdirSync(jail, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw toIoError(err);
  }
}

/** What applying a plan to a jail that already matches it reports: every entry unchanged. */
function unchangedResult(jail: string, steps: readonly PlanStep[]): ApplyResult {
  let real = jail;
  try {
    real = fs.realpathSync(jail);
  } catch {
    // reported as given
  }
  return {
    jail: real,
    copied: [],
    unchanged: steps.filter((s) => s.op !== 'mkdir').length,
    linked: [],
    dirsCreated: [],
    written: [],
    devices: [],
    bytesCopied: 0,
    stripped: steps.flatMap((s) => (s.op === 'copy' && s.strippedBits ? [{ path: s.path, bits: s.strippedBits }] : [])),
    pruned: [],
    manifestChanged: false,
  };
}
