/** `elfcopy [copy] PATH... --into JAIL`: plan, print or apply, summarise. */
import * as fs from 'node:fs';
import * as path from 'node:path';
// Only the orchestration's own module: planning, copying and hashing load when there is work.
import { copyIntoJail, type CopyIntoJailEvents, type CopyIntoJailOptions, type CopyIntoJailResult, type CopyPlanReport } from '@elfcopy/jail-copy/copy';
import { parseProfileSpec, type ProfileRequest } from '@elfcopy/jail-copy/profile-spec';
import { dlopenFrom, resolveOptionsFrom } from './resolver-options.js';
import { buildId } from './build-id.js';
import { EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK } from './exit-codes.js';
import { formatPlan } from './format/plan.js';
import { progressBar, type Progress } from './progress.js';
import { withSignalCleanup } from './signals.js';
import { describeError, type Reporter } from './report.js';
import { UsageError } from './usage-error.js';
import { lazyStdout } from './output.js';

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

export async function runCopy(paths: string[], opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream = lazyStdout()): Promise<number> {
  return runCopyWith((jail, options, events) => copyIntoJail(paths, jail, options, events), opts, report, stdout);
}

/** The library call a copy command makes: copyIntoJail, or one that ends in it (traceIntoJail). */
export type CopyCall = (jail: string, options: CopyIntoJailOptions, events: CopyIntoJailEvents) => Promise<CopyIntoJailResult>;

/** A copy command: its options checked, `call` made, its plan and result reported as `elfcopy copy` reports them. */
export async function runCopyWith(call: CopyCall, opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream = lazyStdout()): Promise<number> {
  // Stopped by a signal: what the copy staged in the jail goes (and, with --trace, the traced command
  // and all it started).
  const cleanups: (() => void)[] = [];
  return withSignalCleanup(
    () => cleanups.forEach((c) => c()),
    () => runCopyIn(call, opts, report, stdout, (f) => cleanups.push(f)),
  );
}

/** The command line's copy options as the library's (each checked here, once; defaults in the library). */
export function copyOptionsFrom(opts: CopyCliOptions): CopyIntoJailOptions {
  const resolve = resolveOptionsFrom(opts);
  const out: CopyIntoJailOptions = {};
  if (resolve.root !== undefined && typeof resolve.root === 'string') out.root = resolve.root;
  if (resolve.ldLibraryPath !== undefined) out.ldLibraryPath = resolve.ldLibraryPath;
  if (resolve.target) out.target = resolve.target;
  if (resolve.machine) out.machine = resolve.machine;
  if (resolve.ldConf) out.ldConf = true;
  if (opts.jobs !== undefined) {
    const jobs = Number(opts.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError('--jobs takes a whole number from 1 to 64');
    out.jobs = jobs;
  }
  if (opts.nss === false) out.nss = false;
  if (opts.ldcache) out.ldcache = true;
  if (opts.nsswitch !== undefined) out.nsswitch = opts.nsswitch;
  if (opts.relativeLinks) out.relativeLinks = true;
  if (opts.keepSetuid) out.keepSetuid = true;
  if (opts.checksum) out.checksum = true;
  if (opts.prune) out.prune = true;
  if (opts.dryRun) out.dryRun = true;
  // copy follows the required dlopen notes unless told otherwise (a jail must start).
  out.dlopen = dlopenFrom(opts.dlopen ?? 'required', { allowNone: true });
  if (opts.trace !== undefined) out.trace = opts.trace.split(' ').filter(Boolean);
  out.extraFiles = [...(opts.extraFiles ?? [])];
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
  out.profiles = profiles;
  if (gconvCharsets) out.gconvCharsets = gconvCharsets;
  return out;
}

async function runCopyIn(call: CopyCall, opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream, onCleanup: (cleanup: () => void) => void): Promise<number> {
  const { jail } = checkJailTarget(opts.into);
  const options = copyOptionsFrom(opts);
  // A re-run with the same arguments over an unchanged host and jail reuses the last plan (plan-cache.ts).
  options.planCache = { build: buildId() };
  if (opts.trace !== undefined) report.info(`trace: running ${opts.trace} on the host to see what it loads`);
  let bar: Progress | undefined;
  let code = EXIT_OK;
  const r = await call(jail, options, {
    onCleanup,
    onPlan: (plan) => {
      code = reportPlan(plan, report);
    },
    onStep: (done, total) => {
      if (done === 1 && !opts.quiet) bar = progressBar(total);
      bar?.update(done, total);
    },
  });
  bar?.done();
  const { plan } = r;
  if (r.outcome === 'bad-input') return code;
  if (r.outcome === 'dry-run') {
    const removals = plan.prune?.remove ?? [];
    if (opts.json) stdout.write(JSON.stringify({ schema: 'elfcopy.plan/1', jail, steps: plan.steps, prune: removals, missing: plan.missing.map((m) => ({ name: m.name, neededBy: m.neededBy })), nss: plan.nss ?? null, warnings: plan.warnings }, null, 2) + '\n');
    else stdout.write(formatPlan([...plan.steps, ...removals]));
    if (plan.prune) report.info(`elfcopy: dry run: ${plan.steps.length} steps, ${removals.length} to prune`);
    return code;
  }
  const ldCache = r.applied?.ldCache;
  if (ldCache) report.verbose(`ld.so.cache: ${ldCache.entries} entries from ${ldCache.directories.join(', ')}`);
  for (const w of r.codeWarnings) report.warn(w);
  return finishCopy(r, code, opts, report, stdout);
}

/** What the plan decided, on stderr; the exit code it makes (0 complete, 1 incomplete, 2 bad input). */
function reportPlan(plan: CopyPlanReport, report: Reporter): number {
  for (const w of plan.traceWarnings) report.warn(w);
  if (plan.planReused) report.verbose('plan reused: nothing it was computed from changed, and the jail is as the last run left it');
  report.verbose(`profiles: ${plan.profiles.join(', ') || 'none'}`);
  for (const e of plan.inputErrors) report.error(describeError(e));
  for (const m of plan.missing) report.error(`${m.name}: ${m.reason === 'invalid' ? `cannot be loaded: ${m.detail ?? ''}` : 'not found'} (needed by ${m.neededBy.join(', ')})`);
  for (const w of plan.warnings) report.warn(w);
  const pruning = plan.prune;
  if (pruning && pruning.keptUnrecorded.length > 0) {
    report.warn(`--prune keeps ${pruning.keptUnrecorded.length} paths an older elfcopy installed without recording for which copy (e.g. ${pruning.keptUnrecorded[0] ?? ''})`);
  }
  for (const p of pruning?.keptChanged ?? []) report.warn(`${p}: changed since elfcopy installed it, so --prune keeps it`);
  if (plan.inputErrors.length > 0) return EXIT_BAD_INPUT;
  return plan.missing.length > 0 ? EXIT_INCOMPLETE : EXIT_OK;
}

function finishCopy(r: CopyIntoJailResult, code: number, opts: CopyCliOptions, report: Reporter, stdout: NodeJS.WritableStream): number {
  const { plan, applied: result } = r;
  if (!result) return code;
  if (opts.json) stdout.write(JSON.stringify({ schema: 'elfcopy.copy/1', ...result, planReused: plan.planReused, missing: plan.missing.map((m) => ({ name: m.name, neededBy: m.neededBy })), warnings: plan.warnings }, null, 2) + '\n');
  for (const s of result.stripped) report.verbose(`${s.path}: setuid/setgid bits removed`);
  report.info(
    `elfcopy: ${result.copied.length} files copied (${(result.bytesCopied / 1048576).toFixed(1)} MiB), ${result.linked.length} links made, ${result.dirsCreated.length} directories created, ${result.unchanged} unchanged${result.stripped.length ? `, ${result.stripped.length} setuid/setgid stripped` : ''}${result.pruned.length ? `, ${result.pruned.length} pruned` : ''}`,
  );
  return code;
}
