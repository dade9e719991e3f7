/**
 * The copy plan: every directory, symlink and file a jail needs for its programs to load exactly as on
 * the host, each with the reason it is there. Pure data — computing it touches nothing in the jail;
 * `--dry-run` prints it, apply.ts carries it out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ElfDepsError,
  NotElfError,
  Resolver,
  SysRoot,
  collectInputs,
  scriptNeeds,
  type ClosureGraph,
  type ElfInfo,
  type MissingLibrary,
  type LoaderTarget,
  type ResolveOptions,
  type TargetKey,
  targetFor,
} from '@elfcopy/elf-deps';
import { glibcDefaultEntries, nssModulesNeeded, parseNsswitch, type NssEntry } from './nss.js';
import { glibcLibc, loaderFamiliesOf, loaderFiles } from './loader-families.js';
import { consultedPaths, recordingRoot } from './access-log.js';

export type PlanStep =
  | {
      op: 'mkdir';
      path: string;
      mode: number;
      uid: number;
      gid: number;
      /** Set mode and owner on an existing directory too (init's explicit hardening). */
      enforce?: boolean;
      reasons: string[];
    }
  | { op: 'mknod'; path: string; major: number; minor: number; mode: number; reasons: string[] }
  | { op: 'write'; path: string; content: string; mode: number; uid: number; gid: number; reasons: string[] }
  | { op: 'symlink'; path: string; target: string; reasons: string[] }
  | {
      /**
       * The jail's own ld.so.cache, built once the libraries are in place (jail-ldcache.ts) from the
       * jail's ld.so.conf, the directories holding `libraries` and the target's system directories.
       */
      op: 'ldcache';
      path: string;
      /** Class, machine and byte order the cache is written for. */
      target: { elfClass: 32 | 64; machine: number; byteOrder: 'little' | 'big' };
      /** In-jail paths of the shared libraries the plan installs. */
      libraries: string[];
      mode: number;
      reasons: string[];
    }
  | {
      op: 'copy';
      path: string;
      /** Host path of the source (under the sysroot). */
      source: string;
      size: number;
      mtimeMs: number;
      /** Mode of the copy: the source's, setuid/setgid removed unless kept. */
      mode: number;
      uid: number;
      gid: number;
      /** The setuid/setgid bits that were removed (0 when none). */
      strippedBits: number;
      reasons: string[];
    };

export interface NssReport {
  /**
   * The configuration that governs the jail: --nsswitch's file, the jail's own, the root's file when
   * this plan installs it as the jail's, or 'default' (none: glibc's built-in defaults).
   */
  source: string;
  builtin: string[];
  modules: { service: string; soname: string; databases: string[]; path?: string }[];
  /** Services with no module on this machine. */
  unavailable: { service: string; soname: string; databases: string[] }[];
}

export interface CopyPlan {
  jail: string;
  root: string;
  steps: PlanStep[];
  /** Libraries that could not be found: the jail is copied without them (exit 1). */
  missing: MissingLibrary[];
  /** Inputs that are not ELF, unreadable or malformed (exit 2). */
  inputErrors: ElfDepsError[];
  nss?: NssReport;
  warnings: string[];
  /** Multiarch triplet of the programs' target (x86_64-linux-gnu), for profiles. */
  triplet?: string;
  /** Class, machine and byte order of the first input (what a jail ld.so.cache is written for). */
  target?: { elfClass: 32 | 64; machine: number; byteOrder: 'little' | 'big' };
  /** The loader families of the programs ('glibc', 'musl'): musl programs need no NSS or gconv modules. */
  loaderFamilies?: string[];
  /** With `recordAccess`: every host path the plan was computed from (see plan-cache.ts). */
  consulted?: string[];
  /** Those of them whose directory listing was read: their content, not only their identity, counts. */
  consultedListings?: string[];
  /** Inputs that are scripts: each is copied as it is, and what its "#!" line runs is copied with its closure. */
  scripts?: ScriptInput[];
}

/** A script among the inputs (elf-deps script.ts): the kernel runs `programs[0]` for it. */
export interface ScriptInput {
  path: string;
  /** Its first line after "#!". */
  shebang: string;
  /** It and any interpreter of the chain that is a script itself, copied as they are. */
  scripts: string[];
  /** The ELF programs of the chain (for `#!/usr/bin/env NAME`, env and NAME), inputs of the closure. */
  programs: string[];
}

/**
 * How to plan a copy: the resolver's own options (root, LD_LIBRARY_PATH, target overrides such as
 * hwcaps and $PLATFORM, the machine, dlopen notes, ld.so.conf), as elf-deps defines them, and what the
 * copy adds.
 */
export interface PlanOptions extends Pick<ResolveOptions, 'ldLibraryPath' | 'target' | 'machine' | 'dlopen' | 'ldConf'> {
  /** Copy from this sysroot instead of the host. */
  root?: string;
  /** Bring the NSS modules nsswitch.conf names (default true). */
  nss?: boolean;
  /**
   * nsswitch.conf to read (host path); default: JAIL/etc/nsswitch.conf if present, else the root's when
   * the plan installs it (extraFiles), else glibc's built-in defaults (what glibc in the jail will use).
   */
  nsswitch?: string;
  /** Rewrite absolute symlink targets as relative ones (default: keep them; they resolve inside a chroot). */
  relativeLinks?: boolean;
  /** Keep setuid/setgid bits (default: strip them). */
  keepSetuid?: boolean;
  /** Owner of copied files (default root:root). Directories take the host's owner. */
  owner?: { uid: number; gid: number };
  /** Further in-root paths to bring (with their reason), e.g. from profiles. */
  extraFiles?: { path: string; reason: string }[];
  /** Further ELF files whose closure to bring (with their reason). */
  extraElf?: { path: string; reason: string }[];
  /** Write the jail's own ld.so.cache (--ldcache), as the plan's last step: no warning about cache-only libraries. */
  writesLdCache?: boolean;
  /** Record every host path the plan reads (CopyPlan.consulted), so a later run can reuse the plan. */
  recordAccess?: boolean;
}

const SETID = 0o6000;

export class StepSet {
  readonly byPath = new Map<string, PlanStep>();
  add(step: PlanStep): void {
    const prev = this.byPath.get(step.path);
    if (!prev) {
      this.byPath.set(step.path, step);
      return;
    }
    for (const r of step.reasons) if (!prev.reasons.includes(r)) prev.reasons.push(r);
  }
  ordered(): PlanStep[] {
    const rank = { mkdir: 0, mknod: 1, write: 1, copy: 1, symlink: 2, ldcache: 3 } as const;
    return [...this.byPath.values()].sort((a, b) => rank[a.op] - rank[b.op] || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

function relativeTarget(linkPath: string, absTarget: string): string {
  const rel = path.posix.relative(path.posix.dirname(linkPath), absTarget);
  return rel === '' ? '.' : rel;
}

/**
 * The steps that make `p` open in the jail exactly as it opens on the host: each directory on the way,
 * each symlink met (directory links of merged /usr, file chains), and the file itself.
 */
export function mirrorSteps(root: SysRoot, p: string, reason: string, options: PlanOptions, into: StepSet): boolean {
  const trace = root.pathComponents(p);
  if (!trace) return false;
  const owner = options.owner ?? { uid: 0, gid: 0 };
  for (const e of trace) {
    if (e.kind === 'directory') {
      into.add({ op: 'mkdir', path: e.path, mode: e.stat.mode & 0o7777, uid: e.stat.uid, gid: e.stat.gid, reasons: [`directory on the way to ${p}`] });
    } else if (e.kind === 'symlink' && e.target !== undefined) {
      const target = options.relativeLinks && e.target.startsWith('/') ? relativeTarget(e.path, e.target) : e.target;
      into.add({ op: 'symlink', path: e.path, target, reasons: [e.path === p ? reason : `symlink on the way to ${p}`] });
    } else if (e.kind === 'file') {
      const stripped = options.keepSetuid ? 0 : e.stat.mode & SETID;
      into.add({
        op: 'copy',
        path: e.path,
        source: root.hostPath(e.path),
        size: e.stat.size,
        mtimeMs: e.stat.mtimeMs,
        mode: e.stat.mode & 0o7777 & ~stripped,
        uid: owner.uid,
        gid: owner.gid,
        strippedBits: stripped,
        reasons: [reason],
      });
    } else {
      // Devices, FIFOs and sockets are never copied.
      return false;
    }
  }
  return true;
}

function reasonFor(graph: ClosureGraph, p: string, isRoot: boolean): string {
  if (isRoot) return 'input';
  const node = graph.nodes.get(p);
  if (!node) return 'closure';
  if (node.foundVia.kind === 'interpreter') return `interpreter of ${node.neededBy[0] ?? 'input'}`;
  return `${node.name} needed by ${node.neededBy[0] ?? '?'} (${node.foundVia.kind})`;
}

/** Whether `p` (a file the resolver read for the graph: not opened again) defines symbol version `version`. */
function definesVersion(resolver: Resolver, p: string, version: string): boolean {
  try {
    return resolver.elfFile(p).versionDefinitions().some((d) => d.name === version);
  } catch {
    return false;
  }
}

/** The files readNsswitch looks at, in order (host paths): whichever exists decides. */
function nsswitchCandidates(root: SysRoot, jail: string, options: PlanOptions): string[] {
  if (options.nsswitch !== undefined) return [path.resolve(options.nsswitch)];
  return [path.join(jail, 'etc/nsswitch.conf'), ...['/etc', '/etc/nsswitch.conf'].map((p) => root.hostPath(p))];
}

/**
 * Host paths of the in-root paths `root` consulted and of every directory above them up to the root
 * (not above it: the root's own path is the caller's, and its directory is part of the list), and of
 * the directories among them whose listing was read.
 */
function consultedInRoot(root: SysRoot): { paths: string[]; listings: string[] } {
  const out = new Set<string>();
  const listings: string[] = [];
  for (const c of consultedPaths(root)) {
    if (c.listed) listings.push(root.hostPath(c.path));
    for (let cur = path.posix.normalize(c.path); !out.has(cur); cur = path.posix.dirname(cur)) {
      out.add(cur);
      if (cur === '/') break;
    }
  }
  return { paths: [...out].map((p) => root.hostPath(p)), listings };
}

/**
 * The nsswitch configuration that will govern the jail: glibc there reads the jail's /etc/nsswitch.conf
 * and nothing else, so without one (and none installed by this plan) it is glibc's built-in defaults,
 * never the host's file.
 */
function readNsswitch(root: SysRoot, jail: string, options: PlanOptions): { entries: NssEntry[]; source: string } {
  const hostView = new SysRoot('/');
  if (options.nsswitch !== undefined) {
    const text = hostView.readText(path.resolve(options.nsswitch));
    if (text === undefined) throw new ElfDepsError(options.nsswitch, 'no such file (given with --nsswitch)');
    return { entries: parseNsswitch(text), source: path.resolve(options.nsswitch) };
  }
  const jailView = new SysRoot(jail);
  const inJail = jailView.readText('/etc/nsswitch.conf');
  if (inJail !== undefined) return { entries: parseNsswitch(inJail), source: path.join(jail, 'etc/nsswitch.conf') };
  if ((options.extraFiles ?? []).some((f) => path.posix.normalize(f.path) === '/etc/nsswitch.conf')) {
    const inRoot = root.readText('/etc/nsswitch.conf');
    if (inRoot !== undefined) return { entries: parseNsswitch(inRoot), source: root.hostPath('/etc/nsswitch.conf') };
  }
  return { entries: glibcDefaultEntries(), source: 'default' };
}

/** Why `p` could not be mirrored, in the words of what is on the host. */
function notMirrored(root: SysRoot, p: string): string {
  let st: ReturnType<SysRoot['lstat']>;
  try {
    st = root.lstat(p);
  } catch {
    st = undefined;
  }
  if (st === undefined) {
    // A directory on the way may be the dangling link.
    for (let up = path.posix.dirname(p); up !== '/'; up = path.posix.dirname(up)) {
      if (root.lstat(up)?.isSymbolicLink() && root.stat(up) === undefined) return `${p}: not on the host (${up} is a dangling symbolic link there), not copied`;
    }
    return `${p}: not on the host, not copied`;
  }
  if (st.isSymbolicLink()) {
    let target = '';
    try {
      target = fs.readlinkSync(root.hostPath(root.realParent(p) ?? p));
    } catch {
      target = '?';
    }
    let loops = false;
    let resolves = false;
    try {
      resolves = root.stat(p) !== undefined;
    } catch {
      loops = true;
    }
    if (loops) return `${p}: is a symbolic link loop on the host, not copied`;
    if (!resolves) return `${p}: is a dangling symbolic link on the host (-> ${target}), not copied`;
  }
  return `${p}: not a regular file, directory or link to one (a device, FIFO or socket), not copied`;
}

/**
 * A library the cache found outside the system directories loads in the jail only if the jail has a
 * cache too (ld.so has no other way to look there): say so, the copy alone will not run.
 */
function warnCacheOnly(graph: ClosureGraph, root: SysRoot, plan: CopyPlan): void {
  const dirs = new Set<string>();
  // One targetFor per distinct key, not per library (112 for php-fpm and its extensions; each builds the whole target,
  // ~5 ms together): the key holds every field of the file targetFor reads.
  const targets = new Map<string, LoaderTarget>();
  for (const n of graph.nodes.values()) {
    if (n.foundVia.kind !== 'ld.so.cache') continue;
    const { elfClass, machine, byteOrder, flags, interpreter } = n.info;
    const file: TargetKey = { elfClass, machine, byteOrder, flags };
    if (interpreter !== undefined) file.interpreter = interpreter;
    const key = `${elfClass}\0${machine}\0${byteOrder}\0${flags}\0${interpreter === undefined ? '' : `=${interpreter}`}`;
    let target = targets.get(key);
    if (target === undefined) {
      target = targetFor(file, root);
      targets.set(key, target);
    }
    const dir = path.posix.dirname(n.path);
    if (!target.systemDirs.includes(dir)) dirs.add(dir);
  }
  for (const d of dirs) plan.warnings.push(`libraries in ${d} were found through ld.so.cache, which the jail lacks: pass --ldcache so they load there`);
}

/** Libraries named as ld.so.cache lists them. */
const isSharedLibraryName = (p: string): boolean => /\.so(\.|$)/.test(path.posix.basename(p));

/** /etc/ld.so.cache for the libraries the plan installs (and /etc, when the plan makes no /etc of its own). */
function addLdCacheStep(steps: StepSet, target: NonNullable<CopyPlan['target']>): void {
  const libraries = [...steps.byPath.values()].filter((s) => (s.op === 'copy' || s.op === 'symlink') && isSharedLibraryName(s.path)).map((s) => s.path);
  const reason = "the jail's own ld.so.cache (--ldcache): its libraries as ldconfig would list them";
  steps.add({ op: 'mkdir', path: '/etc', mode: 0o755, uid: 0, gid: 0, reasons: ["directory of the jail's ld.so.cache"] });
  steps.add({ op: 'ldcache', path: '/etc/ld.so.cache', target, libraries: libraries.sort(), mode: 0o644, reasons: [reason] });
}

/** The resolver a plan with these options uses (one per run: it parses each file once). */
export function resolverFor(options: PlanOptions): Resolver {
  const resolveOptions: ResolveOptions = {};
  if (options.root !== undefined) resolveOptions.root = options.root;
  if (options.ldLibraryPath !== undefined) resolveOptions.ldLibraryPath = options.ldLibraryPath;
  if (options.target) resolveOptions.target = options.target;
  if (options.machine) resolveOptions.machine = options.machine;
  if (options.dlopen) resolveOptions.dlopen = options.dlopen;
  if (options.ldConf) resolveOptions.ldConf = true;
  if (options.recordAccess) resolveOptions.root = recordingRoot(options.root ?? '/');
  return new Resolver(resolveOptions);
}

/**
 * The named inputs the closure refused as not ELF that are scripts (elf-deps scriptNeeds), and those
 * whose chain cannot be followed (a ScriptError naming the script and why, in place of "not ELF").
 */
function scriptInputs(root: SysRoot, graph: ClosureGraph, named: readonly string[]): { scripts: ScriptInput[]; failed: { input: string; error: ElfDepsError }[] } {
  const inputs = new Set(named);
  const scripts: ScriptInput[] = [];
  const failed: { input: string; error: ElfDepsError }[] = [];
  for (const err of graph.inputErrors) {
    if (!(err instanceof NotElfError) || !inputs.has(err.path)) continue;
    try {
      const needs = scriptNeeds(root, err.path);
      if (needs) scripts.push({ path: err.path, shebang: needs.shebang.line, scripts: needs.scripts, programs: needs.programs });
    } catch (scriptErr) {
      if (!(scriptErr instanceof ElfDepsError)) throw scriptErr;
      failed.push({ input: err.path, error: scriptErr });
    }
  }
  return { scripts, failed };
}

/**
 * Computes the plan for `inputs`. `resolver` (from resolverFor with the same options) lets repeated
 * plans share parsed files and directory listings.
 */
export function planCopy(inputs: readonly string[], jail: string, options: PlanOptions = {}, resolver: Resolver = resolverFor(options)): CopyPlan {
  const root = resolver.root;
  const collected = collectInputs(root, inputs);
  const extraElf = options.extraElf ?? [];
  let graph = resolver.resolve([...collected.files, ...extraElf.map((e) => e.path)]);
  const extraReason = new Map(extraElf.map((e) => [e.path, e.reason]));
  // An input that is not ELF may be a script: then its interpreters take its place in the closure
  // (resolved again: the resolver has every file of the first pass already).
  const { scripts, failed } = scriptInputs(root, graph, collected.files);
  if (scripts.length > 0 || failed.length > 0) {
    const byScript = new Map(scripts.map((s) => [s.path, s.programs]));
    for (const f of failed) byScript.set(f.input, []);
    const programs = collected.files.flatMap((f) => byScript.get(f) ?? [f]);
    for (const s of scripts) for (const p of s.programs) if (!extraReason.has(p)) extraReason.set(p, `interpreter of ${s.path} (#!${s.shebang})`);
    graph = resolver.resolve([...new Set([...programs, ...extraElf.map((e) => e.path)])]);
    graph.inputErrors.push(...failed.map((f) => f.error));
  }
  graph.inputErrors.unshift(...collected.errors);

  const steps = new StepSet();
  const plan: CopyPlan = { jail, root: root.root, steps: [], missing: [...graph.missing], inputErrors: graph.inputErrors, warnings: [] };
  if (scripts.length > 0) plan.scripts = scripts;
  for (const s of scripts) {
    s.scripts.forEach((p, i) => {
      if (!mirrorSteps(root, p, i === 0 ? 'input' : `interpreter of ${s.scripts[i - 1] ?? s.path} (a script)`, options, steps)) plan.warnings.push(`${p}: not a regular file or directory chain, not copied`);
    });
  }

  const addGraph = (g: ClosureGraph, rootReason?: (p: string) => string): void => {
    for (const rc of g.roots) {
      for (const p of rc.objects) {
        const reason = p === rc.path ? (rootReason?.(p) ?? extraReason.get(p) ?? 'input') : reasonFor(g, p, false);
        if (!mirrorSteps(root, p, reason, options, steps)) plan.warnings.push(`${p}: not a regular file or directory chain, not copied`);
        // glibc-hwcaps: bring every variant beside the chosen one, so the jail runs on another CPU level.
        for (const v of g.nodes.get(p)?.variants ?? []) mirrorSteps(root, v, `hwcaps variant of ${p}`, options, steps);
      }
    }
  };
  addGraph(graph);
  for (const f of loaderFiles(graph)) mirrorSteps(root, f.path, f.reason, options, steps);
  for (const w of graph.warnings) if (!plan.warnings.includes(w)) plan.warnings.push(w);
  plan.loaderFamilies = loaderFamiliesOf(graph);
  if (!options.writesLdCache) warnCacheOnly(graph, root, plan);

  // What libc itself dlopen()s: libgcc_s for pthread_cancel/unwinding, and the NSS modules.
  const libc = glibcLibc(graph);
  const first = graph.roots[0] ? graph.nodes.get(graph.roots[0].path) : undefined;
  if (first) {
    // The architecture row's multiarch triplet: $LIB may be a biarch directory (lib32) that names none.
    const triplet = targetFor(first.info, root).arch.triplet;
    if (triplet !== '') plan.triplet = triplet;
    plan.target = { elfClass: first.info.elfClass, machine: first.info.machine, byteOrder: first.info.byteOrder };
  }
  if (libc) {
    const like: ElfInfo = libc.info;
    const dlopened: { path: string; reason: string }[] = [];
    const gcc = resolver.locate('libgcc_s.so.1', like);
    if (gcc) dlopened.push({ path: gcc.path, reason: 'libgcc_s.so.1: libc loads it at run time for pthread_cancel and unwinding' });
    else plan.warnings.push('libgcc_s.so.1 not found: pthread_cancel and C++ unwinding will fail in the jail');
    if (options.nss !== false) {
      const { entries, source } = readNsswitch(root, jail, options);
      const builtins = definesVersion(resolver, libc.path, 'GLIBC_2.34');
      const report: NssReport = { source, builtin: builtins ? ['files', 'dns'] : [], modules: [], unavailable: [] };
      for (const need of nssModulesNeeded(entries, builtins)) {
        const found = resolver.locate(need.soname, like);
        if (found) {
          report.modules.push({ ...need, path: found.path });
          dlopened.push({ path: found.path, reason: `NSS module for ${need.databases.join(', ')} (service '${need.service}' in ${source === 'default' ? "glibc's built-in defaults" : source})` });
        } else {
          report.unavailable.push(need);
          plan.warnings.push(`${source === 'default' ? "glibc's built-in nsswitch defaults name" : `${source} names`} service '${need.service}' for ${need.databases.join(', ')} but ${need.soname} is not on this machine`);
        }
      }
      plan.nss = report;
    }
    if (dlopened.length > 0) {
      const reasons = new Map(dlopened.map((d) => [d.path, d.reason]));
      const g2 = resolver.resolve(dlopened.map((d) => d.path));
      plan.missing.push(...g2.missing);
      plan.inputErrors.push(...g2.inputErrors);
      addGraph(g2, (p) => reasons.get(p) ?? 'runtime module');
    }
  }
  for (const f of options.extraFiles ?? []) {
    if (!mirrorSteps(root, f.path, f.reason, options, steps)) plan.warnings.push(notMirrored(root, f.path));
  }
  if (options.writesLdCache && plan.target) addLdCacheStep(steps, plan.target);
  // The jail's own root directory is the jail: never recreate or chmod it.
  steps.byPath.delete('/');
  plan.steps = steps.ordered();
  if (options.recordAccess) {
    const nss = libc && options.nss !== false ? nsswitchCandidates(root, jail, options) : [];
    const inRoot = consultedInRoot(root);
    plan.consulted = [...new Set([...inRoot.paths, ...nss])].sort();
    plan.consultedListings = [...new Set(inRoot.listings)].sort();
  }
  return plan;
}
