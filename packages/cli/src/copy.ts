/** `elfcopy [copy] PATH... --into JAIL`: plan, print or apply, summarise. */
import * as fs from 'node:fs';
import * as path from 'node:path';
// The plan-cache reader is all a run with nothing to do needs: planning, copying and hashing load
// only when there is work (import() below), which keeps such a run ~15 ms shorter.
import { planCacheKey, reusablePlan, type CachedPlan } from '@elfcopy/jail-copy/plan-cache';
import { parseProfileSpec, type ProfileRequest } from '@elfcopy/jail-copy/profile-spec';
import type { ApplyResult, PlanOptions, PlanStep, ProfilePlan, PruneStep } from '@elfcopy/jail-copy';
import { machineKey } from '@elfcopy/elf-deps/internal';
import { machineFrom, platformFrom } from './resolver-options.js';
import { buildId } from './build-id.js';
import { EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK } from './exit-codes.js';
import { escapeName } from './format/escape.js';
import { progressBar } from './progress.js';
import { withSignalCleanup } from './signals.js';
import { describeError, type Reporter } from './report.js';
import { UsageError } from './usage-error.js';

export interface CopyCliOptions {
  into?: string;
  dryRun?: boolean;
  json?: boolean;
  root?: string;
  ldLibraryPath?: string;
  hwcaps?: string;
  platform?: string;
  cpuVendor?: string;
  cpuinfo?: string;
  ldSoConf?: boolean;
  nss?: boolean;
  nsswitch?: string;
  prune?: boolean;
  checksum?: boolean;
  jobs?: string;
  relativeLinks?: boolean;
  keepSetuid?: boolean;
  with?: string;
  gconvCharsets?: string;
  dlopen?: string;
  trace?: string;
  quiet?: boolean;
  ldcache?: boolean;
  /** Plain files to bring too (from `trace`), each with its reason. */
  extraFiles?: { path: string; reason: string }[];
}

/**
 * JAIL as given (absolute), checked: an existing directory other than /, or a missing last component
 * whose parent exists (`missing`: the run creates it, as cp and rsync create their destination's last
 * component — never a whole path, so a typo does not make a new tree).
 */
export function checkJailTarget(jail: string | undefined): { jail: string; missing: boolean } {
  if (!jail) throw new UsageError('--into JAIL is required (the jail directory to copy into)');
  const abs = path.resolve(jail);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new UsageError(`${jail}: cannot be a jail (a component of the path is not a directory)`);
    if (code !== 'ENOENT') throw new UsageError(`${jail}: cannot be a jail (${code ?? String(err)})`);
    if (fs.lstatSync(abs, { throwIfNoEntry: false })) throw new UsageError(`${jail}: is a dangling symbolic link`);
    const parent = path.dirname(abs);
    let parentOk = false;
    try {
      parentOk = fs.statSync(parent).isDirectory();
    } catch {
      parentOk = false;
    }
    if (!parentOk) throw new UsageError(`${jail}: its parent directory ${parent} does not exist (only the jail's last component is created)`);
    return { jail: abs, missing: true };
  }
  if (real === '/') throw new UsageError(`${jail}: refusing to use / as a jail`);
  if (!fs.statSync(real).isDirectory()) throw new UsageError(`${jail}: not a directory`);
  return { jail: abs, missing: false };
}

/**
 * Makes the missing jail checkJailTarget allowed (its last component, mode 0755), once the plan is known
 * to be good; what the parent's file system refuses (read-only, full) is reported as `toIoError` says.
 */
function createJail(jail: string, toIoError: (err: unknown) => unknown): void {
  try {
    fs.mkdirSync(jail, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw toIoError(err);
  }
}

function describeStep(s: PlanStep | PruneStep): string {
  switch (s.op) {
    case 'mkdir':
      return `mkdir   ${s.path} (${s.mode.toString(8)} ${s.uid}:${s.gid})`;
    case 'copy':
      return `copy    ${s.path}${s.strippedBits ? ` (setuid/setgid stripped)` : ''}`;
    case 'symlink':
      return `symlink ${s.path} -> ${s.target}`;
    case 'write':
      return `write   ${s.path}`;
    case 'mknod':
      return `mknod   ${s.path} c ${s.major} ${s.minor}`;
    case 'remove':
      return `remove  ${s.path}${s.kind === 'dir' ? '/' : ''}`;
  }
}

export function formatPlan(steps: readonly (PlanStep | PruneStep)[]): string {
  return steps.map((s) => `${escapeName(describeStep(s)).padEnd(72)}  # ${escapeName(s.reasons[0] ?? '')}`).join('\n') + (steps.length ? '\n' : '');
}

export async function runCopy(paths: string[], opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  // Stopped by a signal: what the copy staged in the jail goes (jail-copy is loaded once there is any).
  // (--trace: the traced command, and all it started, ends too.)
  const cleanups: (() => void)[] = [];
  return withSignalCleanup(
    () => cleanups.forEach((c) => c()),
    () => runCopyIn(paths, opts, report, stdout, (f) => cleanups.push(f)),
  );
}

async function runCopyIn(paths: string[], opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream, onCleanup: (cleanup: () => void) => void): Promise<number> {
  const { jail, missing: jailMissing } = checkJailTarget(opts.into);
  const jobs = opts.jobs === undefined ? 4 : Number(opts.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError('--jobs takes a whole number from 1 to 64');
  const planOptions: PlanOptions = {};
  if (opts.root !== undefined) planOptions.root = opts.root;
  if (opts.ldLibraryPath !== undefined) planOptions.ldLibraryPath = opts.ldLibraryPath;
  if (opts.hwcaps !== undefined) planOptions.hwcaps = opts.hwcaps === 'none' ? [] : opts.hwcaps.split(',');
  const platform = platformFrom(opts);
  if (platform !== undefined) planOptions.platform = platform;
  const machine = machineFrom(opts);
  if (machine) planOptions.machine = machine;
  if (opts.nss === false) planOptions.nss = false;
  if (opts.ldSoConf) planOptions.ldConf = true;
  if (opts.ldcache) planOptions.writesLdCache = true;
  if (opts.nsswitch !== undefined) planOptions.nsswitch = opts.nsswitch;
  if (opts.relativeLinks) planOptions.relativeLinks = true;
  if (opts.keepSetuid) planOptions.keepSetuid = true;
  const dl = opts.dlopen ?? 'required';
  if (dl !== 'required' && dl !== 'recommended' && dl !== 'suggested' && dl !== 'none') throw new UsageError('--dlopen takes required, recommended, suggested or none');
  planOptions.dlopen = dl === 'none' ? false : dl;

  const extraElf: { path: string; reason: string }[] = [];
  const extraFiles: { path: string; reason: string }[] = [...(opts.extraFiles ?? [])];
  if (opts.trace !== undefined) {
    report.info(`trace: running ${opts.trace} on the host to see what it loads`);
    const { traceCommand } = await import('@elfcopy/jail-copy');
    const t = await traceCommand(opts.trace.split(' ').filter(Boolean), { onStart: onCleanup });
    for (const w of t.warnings) report.warn(w);
    extraElf.push(...t.objects.map((o) => ({ path: o, reason: `loaded at run time by ${opts.trace}` })));
  }
  // No --with is `auto`; `--with none` the bare closure (profile-spec.ts has the syntax).
  let profiles: ProfileRequest;
  try {
    profiles = parseProfileSpec(opts.with);
  } catch (err) {
    throw new UsageError(describeError(err));
  }
  // --gconv-charsets LIST is --with +gconv:charsets=LIST, kept for the command lines that use it.
  const gconvCharsets = opts.gconvCharsets ? opts.gconvCharsets.split(',') : undefined;
  if (gconvCharsets && !profiles.names.includes('gconv')) profiles.names.push('gconv');
  // A re-run with the same arguments over an unchanged host and jail reuses the last plan (plan-cache.ts).
  // Not for what must look at contents or outside the plan: --checksum, --trace, --ldcache, --dry-run.
  const cacheable = !opts.dryRun && !opts.checksum && opts.trace === undefined && !opts.ldcache;
  const key = planCacheKey({
    build: buildId(),
    cwd: process.cwd(),
    user: [process.geteuid?.(), process.getegid?.()],
    // The CPU the model reads (this host's, or --cpuinfo's, after --cpu-vendor): it decides $PLATFORM and
    // the legacy subdirectories even when --hwcaps fixes the levels (a VM moved to another host differs).
    cpu: machineKey(planOptions.machine),
    paths,
    planOptions,
    extraFiles,
    profiles,
    profilesDir: process.env.ELFCOPY_PROFILES,
    gconvCharsets,
    prune: Boolean(opts.prune),
  });
  const reused = cacheable && !jailMissing ? reusablePlan(jail, key) : undefined;
  if (reused) {
    report.verbose('plan reused: nothing it was computed from changed, and the jail is as the last run left it');
    report.verbose(`profiles: ${reused.profiles.join(', ') || 'none'}`);
    const code = reportPlan(reused, report);
    return finishCopy(reused, unchangedResult(jail, reused.steps), code, true, opts, report, stdout);
  }
  const { applyPlan, asJailIoError, copyOwner, hostSignatures, planCopyWithProfiles, planPrune, removeStaging, savePlanCache, writeJailLdCache } = await import('@elfcopy/jail-copy');
  onCleanup(removeStaging);
  const plan: ProfilePlan = planCopyWithProfiles(paths, jail, {
    ...planOptions,
    extraElf,
    extraFiles,
    profiles,
    ...(gconvCharsets ? { gconvCharsets } : {}),
    ...(cacheable ? { recordAccess: true } : {}),
  });
  const hostState = cacheable && plan.consulted ? hostSignatures(plan.consulted, plan.consultedListings ?? [], jail) : undefined;
  report.verbose(`profiles: ${plan.profiles.join(', ') || 'none'}`);

  for (const e of plan.inputErrors) report.error(describeError(e));
  const planCode = reportPlan(plan, report);
  const code = plan.inputErrors.length > 0 ? EXIT_BAD_INPUT : planCode;
  if (plan.inputErrors.length > 0 && plan.steps.every((s) => s.op !== 'copy')) return code;

  // This copy's installer in the manifest: its input set (a prune never removes another's files).
  const owner = copyOwner(paths.map((p) => (opts.root !== undefined ? path.posix.resolve('/', p) : path.resolve(p))), opts.root);
  const pruning = opts.prune ? planPrune(jail, owner.id, plan.steps, opts.root) : undefined;
  if (pruning && pruning.keptUnrecorded.length > 0) {
    report.warn(`--prune keeps ${pruning.keptUnrecorded.length} paths an older elfcopy installed without recording for which copy (e.g. ${pruning.keptUnrecorded[0] ?? ''})`);
  }
  for (const p of pruning?.keptChanged ?? []) report.warn(`${p}: changed since elfcopy installed it, so --prune keeps it`);
  if (opts.dryRun) {
    const removals = pruning?.remove ?? [];
    if (opts.json) stdout.write(JSON.stringify({ schema: 'elfcopy.plan/1', jail, steps: plan.steps, prune: removals, missing: plan.missing.map((m) => ({ name: m.name, neededBy: m.neededBy })), nss: plan.nss ?? null, warnings: plan.warnings }, null, 2) + '\n');
    else stdout.write(formatPlan([...plan.steps, ...removals]));
    if (pruning) report.info(`elfcopy: dry run: ${plan.steps.length} steps, ${removals.length} to prune`);
    return code;
  }
  // Only now, with a plan that copies something: a run refused for bad input leaves no empty jail.
  if (jailMissing) createJail(jail, (err) => asJailIoError(err, jail, '/'));
  const bar = opts.quiet ? undefined : progressBar(plan.steps.length);
  const result = await applyPlan(plan.steps, jail, { jobs, checksum: Boolean(opts.checksum), owner, ...(pruning ? { prune: pruning.remove } : {}), ...(opts.root ? { root: opts.root } : {}), ...(bar ? { onStep: bar.update } : {}) });
  bar?.done();
  if (opts.ldcache && plan.target) {
    const libs = plan.steps.filter((s) => (s.op === 'copy' || s.op === 'symlink') && /\.so(\.|$)/.test(path.posix.basename(s.path))).map((s) => s.path);
    const c = await writeJailLdCache(jail, plan.target, libs);
    report.verbose(`ld.so.cache: ${c.entries} entries from ${c.directories.join(', ')}`);
  }
  // audit.ts: programs and libraries now in a directory a service can write (repeated when the plan is reused).
  const { writableCodeWarnings } = await import('@elfcopy/jail-copy');
  const codeWarnings = writableCodeWarnings(jail, plan.steps.flatMap((s) => (s.op === 'copy' ? [s.path] : [])));
  for (const w of codeWarnings) report.warn(w);
  const cached: CachedPlan = {
    steps: plan.steps,
    missing: plan.missing.map((m) => ({ name: m.name, neededBy: m.neededBy, reason: m.reason, ...(m.detail !== undefined ? { detail: m.detail } : {}) })),
    warnings: [...plan.warnings, ...codeWarnings],
    profiles: plan.profiles,
    ...(plan.nss ? { nss: plan.nss } : {}),
  };
  if (hostState && plan.consulted && code !== EXIT_BAD_INPUT) await savePlanCache(jail, key, cached, hostState, plan.consulted);
  return finishCopy(cached, result, code, false, opts, report, stdout);
}

/** Missing libraries and warnings on stderr; the exit code they make (0 complete, 1 incomplete). */
function reportPlan(plan: Pick<CachedPlan, 'missing' | 'warnings'>, report: Reporter): number {
  for (const m of plan.missing) report.error(`${m.name}: ${m.reason === 'invalid' ? `cannot be loaded: ${m.detail ?? ''}` : 'not found'} (needed by ${m.neededBy.join(', ')})`);
  for (const w of plan.warnings) report.warn(w);
  return plan.missing.length > 0 ? EXIT_INCOMPLETE : EXIT_OK;
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

function finishCopy(plan: CachedPlan, result: ApplyResult, code: number, planReused: boolean, opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream): number {
  if (opts.json) stdout.write(JSON.stringify({ schema: 'elfcopy.copy/1', ...result, planReused, missing: plan.missing.map((m) => ({ name: m.name, neededBy: m.neededBy })), warnings: plan.warnings }, null, 2) + '\n');
  for (const s of result.stripped) report.verbose(`${s.path}: setuid/setgid bits removed`);
  report.info(
    `elfcopy: ${result.copied.length} files copied (${(result.bytesCopied / 1048576).toFixed(1)} MiB), ${result.linked.length} links made, ${result.dirsCreated.length} directories created, ${result.unchanged} unchanged${result.stripped.length ? `, ${result.stripped.length} setuid/setgid stripped` : ''}${result.pruned.length ? `, ${result.pruned.length} pruned` : ''}`,
  );
  return code;
}
