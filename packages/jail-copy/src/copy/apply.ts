/**
 * Carrying out a plan: every step through the confined file operations (fileops.ts over inroot.ts), so
 * nothing is created, written or chmod-ed outside the jail whatever links it holds. Copies run with
 * bounded concurrency; a file whose copy is up to date (size and mtime, or sha256 with `checksum`) is
 * left alone, so a second run over unchanged sources changes nothing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pLimit from 'p-limit';
import { JailConflictError, JailIoError, asJailIoError } from '../errors.js';
import { StagingDirs, cleanupTemps, ensureDir, hasMeta, isUpToDate, removeEntry, symlinkAtomic, trackStaging, writeFileAtomic, writeJailContent, writeJailText } from './fileops.js';
import { Jail, type FileMeta, type TrustLink } from '../confine/inroot.js';
import { CopyWorkers } from './copy-workers.js';
import { readJailText } from '../confine/jail-text.js';
import { INIT_OWNER, MANIFEST_DIR, MANIFEST_PATH, emptyManifest, ownersOf, serializeManifest, type Installer, type Manifest, type ManifestEntry } from './manifest.js';
import type { PlanStep } from './plan.js';
import { planPrune, readJailManifest, type PruneStep } from './prune.js';
import { trustLinkFor } from './trust.js';
import { lockJail } from './jail-lock.js';
import { buildJailLdCache, type JailLdCacheResult } from './jail-ldcache.js';
import { DEFAULTS } from '../defaults.js';

export interface ApplyOptions {
  /** Parallel copies (default DEFAULTS.jobs). */
  jobs?: number;
  /** Decide "up to date" by sha256 instead of size and mtime. */
  checksum?: boolean;
  /**
   * Remove what this installer put there before and no installer still claims (per the manifest):
   * exactly these removals (planPrune's, as a dry run printed them), or `true` to compute them now.
   */
  prune?: boolean | readonly PruneStep[];
  /** The installer this run is (manifest owners): INIT_OWNER, a copyOwner(), or by default 'copy'. */
  owner?: { id: string; installer?: Installer };
  /** Host root the plan's symlinks mirror (default '/'): a jail link identical to the host's is trusted. */
  root?: string;
  /** Called after each step (for a progress bar). */
  onStep?: (done: number, total: number) => void;
  /** Name recorded as the manifest's generator. */
  generator?: string;
  /** Do not write a manifest. */
  noManifest?: boolean;
  /** Which command this is (the default owner: INIT_OWNER for init). */
  installer?: 'init' | 'copy';
}

export interface ApplyResult {
  jail: string;
  copied: string[];
  unchanged: number;
  linked: string[];
  dirsCreated: string[];
  written: string[];
  devices: string[];
  bytesCopied: number;
  stripped: { path: string; bits: number }[];
  pruned: string[];
  manifestChanged: boolean;
  /** The jail's ld.so.cache, when the plan has an `ldcache` step. */
  ldCache?: JailLdCacheResult;
}

export async function applyPlan(steps: readonly PlanStep[], jailDir: string, options: ApplyOptions = {}): Promise<ApplyResult> {
  const jail = Jail.open(jailDir);
  try {
    return await applyIn(jail, steps, jailDir, options);
  } catch (err) {
    // The file operations name the path they were at; anything else the jail's file system refused
    // (a path in the jail or below a held directory of it) is about the jail.
    const at = (err as NodeJS.ErrnoException | undefined)?.path ?? '';
    throw at.startsWith('/proc/self/fd/') || at === jail.root || at.startsWith(jail.root + '/') ? asJailIoError(err, jail.root, '/') : err;
  }
}

/** What every phase shares: the jail, the links it may follow, the result and manifest entries so far. */
interface Run {
  jail: Jail;
  trustLink: TrustLink;
  result: ApplyResult;
  entries: ManifestEntry[];
  /** One step done (the progress callback). */
  tick: () => void;
}

/**
 * The phases, in the order that keeps every state in between safe to stop at: directories; files
 * (copies and writes, in parallel); what an earlier killed run left; links and devices; the prune;
 * the jail's ld.so.cache; the manifest.
 */
async function applyIn(jail: Jail, steps: readonly PlanStep[], jailDir: string, options: ApplyOptions): Promise<ApplyResult> {
  // One run at a time changes a jail (jail-lock.ts): taken before the manifest is read, so that what
  // this run records is merged into the manifest as it is now, not as it was when another run began.
  const unlock = options.noManifest ? undefined : await lockJail(jail);
  try {
    return await applyLocked(jail, steps, jailDir, options);
  } finally {
    unlock?.();
  }
}

async function applyLocked(jail: Jail, steps: readonly PlanStep[], jailDir: string, options: ApplyOptions): Promise<ApplyResult> {
  const owner = options.owner ?? { id: options.installer === 'init' ? INIT_OWNER : 'copy' };
  const old = options.noManifest ? undefined : readJailManifest(jail);
  // Computed before anything changes, as a dry run computes them; removals planned before the lock
  // only where the manifest read under it still gives the entry to this installer alone.
  const removals = options.prune === true ? planPrune(jailDir, owner.id, steps, options.root).remove : stillOwned(options.prune || [], old, owner.id);
  let done = 0;
  const run: Run = {
    jail,
    // A link in the jail is followed only where it is the mirror of the host's own link (or one we made).
    trustLink: trustLinkFor(old, options.root ?? '/'),
    result: { jail: jail.root, copied: [], unchanged: 0, linked: [], dirsCreated: [], written: [], devices: [], bytesCopied: 0, stripped: [], pruned: [], manifestChanged: false },
    entries: [],
    tick: () => options.onStep?.(++done, steps.length),
  };
  // The directories the steps walk to stay open for the whole apply (inroot.ts: holdDirectories).
  const release = jail.holdDirectories(run.trustLink);
  try {
    await applyPhases(run, steps, removals, old, owner, options);
  } finally {
    release();
  }
  return run.result;
}

/**
 * The planned removals whose manifest entry this installer alone still claims: another run that
 * finished between the plan and the lock may have claimed one since (a prune never removes another's).
 */
function stillOwned(removals: readonly PruneStep[], manifest: Manifest | undefined, owner: string): readonly PruneStep[] {
  if (removals.length === 0) return removals;
  const byPath = new Map((manifest?.entries ?? []).map((e) => [e.path, e]));
  return removals.filter((r) => {
    const e = byPath.get(r.path);
    const owners = e ? ownersOf(e) : [];
    return owners.length === 1 && owners[0] === owner;
  });
}

async function applyPhases(run: Run, steps: readonly PlanStep[], removals: readonly PruneStep[], old: Manifest | undefined, owner: { id: string; installer?: Installer }, options: ApplyOptions): Promise<void> {
  const { jail } = run;
  await makeDirectories(run, steps);
  await placeFiles(run, steps, old, options);
  removeLeftovers(run, steps);
  await placeLinksAndDevices(run, steps);
  // Files and links first, then directories deepest first (planPrune's order), each only as planned.
  for (const r of removals) {
    if (await removeEntry(jail, r.path, { directory: r.kind === 'dir', trustLink: run.trustLink })) run.result.pruned.push(r.path);
  }
  // Last, over the jail as it now is: the libraries in place, the pruned ones gone.
  await writeLdCaches(run, steps);
  if (!options.noManifest) run.result.manifestChanged = await recordManifest(run, old, owner, options.prune !== undefined && options.prune !== false, options.generator);
}

async function makeDirectories(run: Run, steps: readonly PlanStep[]): Promise<void> {
  for (const step of steps) {
    if (step.op !== 'mkdir') continue;
    const created = await ensureDir(run.jail, step.path, { mode: step.mode, uid: step.uid, gid: step.gid, force: Boolean(step.enforce), trustLink: run.trustLink });
    if (created) run.result.dirsCreated.push(step.path);
    run.entries.push({ path: step.path, kind: 'dir', mode: step.mode, reasons: step.reasons });
    run.tick();
  }
}

/**
 * Copies and writes, `jobs` at a time, each copy hashed for the manifest as its bytes are written
 * (copy-workers.ts). The biggest files start first: with a few threads, the longest copy is never the
 * one left running alone at the end.
 */
async function placeFiles(run: Run, steps: readonly PlanStep[], old: Manifest | undefined, options: ApplyOptions): Promise<void> {
  const { jail, trustLink, result } = run;
  const oldByPath = new Map((old?.entries ?? []).map((e) => [e.path, e]));
  const jobs = Math.max(1, options.jobs ?? DEFAULTS.jobs);
  const limit = pLimit(jobs);
  const staging = new StagingDirs();
  // Started on the first copy: a run whose files are all in place starts no thread.
  const workers = new CopyWorkers(jobs);
  const knownSha = (step: Extract<PlanStep, { op: 'copy' }>): string | undefined => {
    const prev = oldByPath.get(step.path);
    return prev?.sha256 && prev.size === step.size && prev.mtimeMs === step.mtimeMs ? prev.sha256 : undefined;
  };
  const shaFills: Promise<void>[] = [];
  async function applyStep(step: PlanStep): Promise<void> {
    if (step.op === 'copy') {
      const meta = { mode: step.mode, uid: step.uid, gid: step.gid };
      const upToDate = await isUpToDate(jail, step.path, step.source, { checksum: Boolean(options.checksum), trustLink, meta });
      const entry: ManifestEntry = { path: step.path, kind: 'file', source: step.source, sha256: '', size: step.size, mtimeMs: step.mtimeMs, mode: step.mode, reasons: step.reasons };
      if (upToDate) {
        result.unchanged++;
        const known = knownSha(step);
        if (known !== undefined) entry.sha256 = known;
        else {
          // The slot is not held waiting for the hash: it is filled in once every copy is done.
          const fill = workers.hash(step.source).then((sha) => void (entry.sha256 = sha));
          // Handled here too: if a copy fails first, Promise.all below is never reached for it.
          fill.catch(() => undefined);
          shaFills.push(fill);
        }
      } else {
        const written = await writeFileAtomic(jail, step.path, step.source, { mode: step.mode, uid: step.uid, gid: step.gid, stripSetuid: step.strippedBits !== 0, trustLink, staging, copier: workers });
        entry.sha256 = written.sha256;
        result.copied.push(step.path);
        result.bytesCopied += step.size;
      }
      if (step.strippedBits) result.stripped.push({ path: step.path, bits: step.strippedBits });
      run.entries.push(entry);
      run.tick();
    } else if (step.op === 'write') {
      const meta = { mode: step.mode, uid: step.uid, gid: step.gid };
      if (await sameText(jail, step.path, step.content, meta, trustLink)) result.unchanged++;
      else {
        await writeJailContent(jail, step.path, step.content, { ...meta, trustLink });
        result.written.push(step.path);
      }
      run.entries.push({ path: step.path, kind: 'file', sha256: createHash('sha256').update(step.content).digest('hex'), size: Buffer.byteLength(step.content), mode: step.mode, reasons: step.reasons });
      run.tick();
    }
  }
  const bySize = (s: PlanStep): number => (s.op === 'copy' ? s.size : 0);
  const files = steps.filter((s) => s.op === 'copy' || s.op === 'write').sort((a, b) => bySize(b) - bySize(a));

  // After the first failure no step starts, and the staging directories are removed only once every
  // step already running has finished (one still copying would make a new one after the cleanup).
  let failed = false;
  try {
    const settled = await Promise.allSettled(
      files.map((step) =>
        limit(async () => {
          if (failed) return;
          try {
            await applyStep(step);
          } catch (err) {
            failed = true;
            throw err;
          }
        }),
      ),
    );
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
    await Promise.all(shaFills);
  } finally {
    staging.cleanup();
    await workers.close();
  }
}

/**
 * What a killed earlier run left behind (.elfcopy-tmp-* entries) goes now: every step stages beside
 * its target, directories included, and so does the manifest.
 */
function removeLeftovers(run: Run, steps: readonly PlanStep[]): void {
  const written = new Set([...steps.map((s) => path.posix.dirname(s.path)), MANIFEST_DIR]);
  for (const d of written) {
    try {
      cleanupTemps(run.jail, d, { trustLink: run.trustLink });
    } catch {
      // A directory that does not resolve was reported by the step that needed it.
    }
  }
}

async function placeLinksAndDevices(run: Run, steps: readonly PlanStep[]): Promise<void> {
  const { jail, trustLink, result } = run;
  for (const step of steps) {
    if (step.op === 'mknod') {
      if (await makeDevice(jail, step.path, step.major, step.minor, step.mode, trustLink)) result.devices.push(step.path);
      else result.unchanged++;
      run.entries.push({ path: step.path, kind: 'device', mode: step.mode, reasons: step.reasons });
      run.tick();
    } else if (step.op === 'symlink') {
      const r = await symlinkAtomic(jail, step.path, step.target, { trustLink });
      if (r === 'unchanged') result.unchanged++;
      else result.linked.push(step.path);
      run.entries.push({ path: step.path, kind: 'symlink', target: step.target, reasons: step.reasons });
      run.tick();
    }
  }
}

async function writeLdCaches(run: Run, steps: readonly PlanStep[]): Promise<void> {
  for (const step of steps) {
    if (step.op !== 'ldcache') continue;
    const built = buildJailLdCache(run.jail.root, step.target, step.libraries);
    await writeJailContent(run.jail, step.path, built.bytes, { mode: step.mode, uid: 0, gid: 0, trustLink: run.trustLink });
    run.result.written.push(step.path);
    run.result.ldCache = { path: step.path, entries: built.entries, directories: built.directories };
    run.entries.push({ path: step.path, kind: 'file', sha256: createHash('sha256').update(built.bytes).digest('hex'), size: built.bytes.length, mode: step.mode, reasons: step.reasons });
    run.tick();
  }
}

/** The manifest with this run's entries merged in (true when it changed). */
async function recordManifest(run: Run, old: Manifest | undefined, owner: { id: string; installer?: Installer }, pruned: boolean, generator: string | undefined): Promise<boolean> {
  const merged = mergeEntries(old?.entries ?? [], run.entries, owner.id, pruned, (p) => run.jail.lstat(p, { trustLink: run.trustLink }) !== undefined);
  const installers: Record<string, Installer> = { ...(old?.installers ?? {}), ...(owner.installer ? { [owner.id]: owner.installer } : {}) };
  const used = new Set(merged.flatMap((e) => e.owners ?? []));
  for (const id of Object.keys(installers)) if (!used.has(id)) delete installers[id];
  const manifest: Manifest = { ...emptyManifest(generator ?? 'elfcopy'), installers, entries: merged };
  return writeManifest(run.jail, manifest, old);
}

/**
 * The manifest after a run of installer `owner`: what it installed now is claimed by it too; with
 * `pruned`, what it installed before and not now is no longer its claim, and an entry no one claims
 * any more leaves the manifest once it has left the jail (a directory someone else filled stays claimed,
 * so the next prune tries again).
 */
function mergeEntries(old: readonly ManifestEntry[], now: readonly ManifestEntry[], owner: string, pruned: boolean, stillThere: (p: string) => boolean): ManifestEntry[] {
  const oldByPath = new Map(old.map((e) => [e.path, e]));
  const out = new Map<string, ManifestEntry>();
  const installedNow = new Set(now.map((e) => e.path));
  const claim = (e: ManifestEntry, owners: string[]): ManifestEntry => ({ ...e, owners, by: owners.includes(INIT_OWNER) ? 'init' : 'copy' });
  for (const e of old) {
    if (installedNow.has(e.path)) continue;
    let owners = ownersOf(e);
    if (pruned && owners.includes(owner)) {
      const others = owners.filter((o) => o !== owner);
      if (others.length > 0) owners = others;
      else if (!stillThere(e.path)) continue;
    }
    out.set(e.path, claim(e, owners));
  }
  for (const e of now) {
    const prev = oldByPath.get(e.path);
    const owners = prev ? ownersOf(prev) : [];
    out.set(e.path, claim(e, owners.includes(owner) ? owners : [...owners, owner]));
  }
  return [...out.values()];
}

async function writeManifest(jail: Jail, manifest: Manifest, old: Manifest | undefined): Promise<boolean> {
  const text = serializeManifest(manifest);
  if (old && serializeManifest(old) === text) return false;
  await ensureDir(jail, MANIFEST_DIR, { mode: 0o700, uid: 0, gid: 0, force: true });
  await writeJailText(jail, MANIFEST_PATH, text);
  return true;
}

async function sameText(jail: Jail, p: string, content: string, meta: FileMeta, trustLink: (l: string, t: string) => boolean): Promise<boolean> {
  const st = jail.lstat(p, { trustLink });
  if (!st?.isFile() || !hasMeta(st, meta) || st.size !== Buffer.byteLength(content)) return false;
  return readJailText(jail, p, trustLink) === content;
}

/** mknod through the system command (root only), at a temporary name, then renamed into place. */
async function makeDevice(jail: Jail, p: string, major: number, minor: number, mode: number, trustLink: (l: string, t: string) => boolean): Promise<boolean> {
  const st = jail.lstat(p, { trustLink });
  if (st?.isCharacterDevice() && Math.floor(st.rdev / 256) === major && st.rdev % 256 === minor && (st.mode & 0o7777) === mode) return false;
  // Made at a temporary name in the held parent directory, then renamed over the final name in it.
  const { dir, name } = jail.openParent(p, { trustLink });
  let untrack: (() => void) | undefined;
  try {
    const tmpName = `.elfcopy-tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    // mknod runs in a child: /proc/self there is the child, so name our own descriptor by our pid.
    const tmp = dir.anchored ? `/proc/${process.pid}/fd/${dir.fd}/${tmpName}` : dir.entry(tmpName);
    const { execa } = await import('execa');
    // Stopped while mknod runs: the node it made goes too.
    untrack = trackStaging(() => fs.rmSync(dir.entry(tmpName), { force: true }));
    const r = await execa('mknod', ['-m', mode.toString(8), tmp, 'c', String(major), String(minor)], { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) {
      // mknod(1) says in words what the jail's file system said.
      const fsCode = /Read-only file system/.test(r.stderr) ? 'EROFS' : /No space left/.test(r.stderr) ? 'ENOSPC' : /quota/i.test(r.stderr) ? 'EDQUOT' : undefined;
      if (fsCode) throw new JailIoError(jail.host(p), fsCode);
      throw new JailConflictError(p, `cannot create device node (mknod needs root): ${r.stderr.trim() || r.shortMessage}`);
    }
    fs.renameSync(dir.entry(tmpName), dir.entry(name));
    // What it replaced may have been a component of a held directory's path.
    if (st) jail.forgetDirectories();
  } finally {
    untrack?.();
    dir.close();
  }
  return true;
}

