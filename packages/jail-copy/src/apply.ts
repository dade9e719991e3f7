/**
 * Carrying out a plan: every step through the confined file operations (fileops.ts over inroot.ts), so
 * nothing is created, written or chmod-ed outside the jail whatever links it holds. Copies run with
 * bounded concurrency; a file whose copy is up to date (size and mtime, or sha256 with `checksum`) is
 * left alone, so a second run over unchanged sources changes nothing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pLimit from 'p-limit';
import { SysRoot } from '@elfcopy/elf-deps';
import { JailConflictError } from './errors.js';
import { StagingDirs, cleanupTemps, ensureDir, hasMeta, isUpToDate, removeEntry, symlinkAtomic, writeFileAtomic, writeJailText, type FileMeta } from './fileops.js';
import { Jail } from './inroot.js';
import { Sha256Worker } from './hash-worker.js';
import { readJailText } from './jail-text.js';
import { MANIFEST_DIR, MANIFEST_PATH, emptyManifest, parseManifest, serializeManifest, type Manifest, type ManifestEntry } from './manifest.js';
import type { PlanStep } from './plan.js';

export interface ApplyOptions {
  /** Parallel copies (default 4). */
  jobs?: number;
  /** Decide "up to date" by sha256 instead of size and mtime. */
  checksum?: boolean;
  /** Remove what an earlier run installed (per the manifest) and this plan no longer has. */
  prune?: boolean;
  /** Host root the plan's symlinks mirror (default '/'): a jail link identical to the host's is trusted. */
  root?: string;
  /** Called after each step (for a progress bar). */
  onStep?: (done: number, total: number) => void;
  /** Name recorded as the manifest's generator. */
  generator?: string;
  /** Do not write a manifest. */
  noManifest?: boolean;
  /** Which command this is: entries are recorded as installed by it, and --prune removes only its own. */
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
}

export async function applyPlan(steps: readonly PlanStep[], jailDir: string, options: ApplyOptions = {}): Promise<ApplyResult> {
  const jail = Jail.open(jailDir);
  const hostRoot = new SysRoot(options.root ?? '/');
  const result: ApplyResult = { jail: jail.root, copied: [], unchanged: 0, linked: [], dirsCreated: [], written: [], devices: [], bytesCopied: 0, stripped: [], pruned: [], manifestChanged: false };
  const old = options.noManifest ? undefined : readManifest(jail);
  const oldByPath = new Map((old?.entries ?? []).map((e) => [e.path, e]));
  // A link in the jail is followed only where it is the mirror of the host's own link (or one we made).
  const trustLink = (link: string, target: string): boolean => {
    const prev = oldByPath.get(link);
    if (prev?.kind === 'symlink' && prev.target === target) return true;
    try {
      const host = hostRoot.lstat(link);
      return host?.isSymbolicLink() === true && fs.readlinkSync(hostRoot.hostPath(hostRoot.realParent(link) ?? link)) === target;
    } catch {
      return false;
    }
  };
  const entries: ManifestEntry[] = [];
  const total = steps.length;
  let done = 0;
  const tick = (): void => {
    done++;
    options.onStep?.(done, total);
  };

  for (const step of steps) {
    if (step.op !== 'mkdir') continue;
    const created = await ensureDir(jail, step.path, { mode: step.mode, uid: step.uid, gid: step.gid, force: Boolean(step.enforce), trustLink });
    if (created) result.dirsCreated.push(step.path);
    entries.push({ path: step.path, kind: 'dir', mode: step.mode, reasons: step.reasons });
    tick();
  }

  const limit = pLimit(Math.max(1, options.jobs ?? 4));
  // Host-side staging for 'write' steps (init's files), made only when there are some.
  let tmpDir: string | undefined;
  const staging = new StagingDirs();
  // Every source the manifest does not already know is sent to the hashing thread now, so it hashes
  // while this thread walks the jail and libuv's threads copy.
  const hasher = new Sha256Worker();
  const knownSha = (step: Extract<PlanStep, { op: 'copy' }>): string | undefined => {
    const prev = oldByPath.get(step.path);
    return prev?.sha256 && prev.size === step.size && prev.mtimeMs === step.mtimeMs ? prev.sha256 : undefined;
  };
  const hashes = new Map<string, Promise<string>>();
  const hashOf = (source: string): Promise<string> => {
    let h = hashes.get(source);
    if (!h) {
      h = hasher.hash(source);
      // Awaited where it is used; a failure there is the error, not an unhandled rejection here.
      h.catch(() => undefined);
      hashes.set(source, h);
    }
    return h;
  };
  for (const step of steps) if (step.op === 'copy' && knownSha(step) === undefined) hashOf(step.source);
  const shaFills: Promise<void>[] = [];
  try {
    await Promise.all(
      steps.map((step) =>
        limit(async () => {
          if (step.op === 'copy') {
            const meta = { mode: step.mode, uid: step.uid, gid: step.gid };
            const upToDate = await isUpToDate(jail, step.path, step.source, { checksum: Boolean(options.checksum), trustLink, meta });
            const known = upToDate ? knownSha(step) : undefined;
            if (upToDate) result.unchanged++;
            else {
              await writeFileAtomic(jail, step.path, step.source, { mode: step.mode, uid: step.uid, gid: step.gid, stripSetuid: step.strippedBits !== 0, trustLink, staging });
              result.copied.push(step.path);
              result.bytesCopied += step.size;
            }
            if (step.strippedBits) result.stripped.push({ path: step.path, bits: step.strippedBits });
            // The slot is not held waiting for the hash: it is filled in once every copy is done.
            const entry: ManifestEntry = { path: step.path, kind: 'file', source: step.source, sha256: known ?? '', size: step.size, mtimeMs: step.mtimeMs, mode: step.mode, reasons: step.reasons };
            entries.push(entry);
            if (known === undefined) {
              const fill = hashOf(step.source).then((sha) => void (entry.sha256 = sha));
              // Handled here too: if a copy fails first, Promise.all below is never reached for it.
              fill.catch(() => undefined);
              shaFills.push(fill);
            }
            tick();
          } else if (step.op === 'write') {
            tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-write-'));
            const tmp = path.join(tmpDir, String(Math.random()).slice(2));
            fs.writeFileSync(tmp, step.content, { mode: 0o600 });
            const stat = fs.statSync(tmp);
            if (await sameText(jail, step.path, step.content, { mode: step.mode, uid: step.uid, gid: step.gid }, trustLink)) result.unchanged++;
            else {
              await writeFileAtomic(jail, step.path, tmp, { mode: step.mode, uid: step.uid, gid: step.gid, stripSetuid: true, trustLink });
              result.written.push(step.path);
            }
            entries.push({ path: step.path, kind: 'file', sha256: createHash('sha256').update(step.content).digest('hex'), size: stat.size, mode: step.mode, reasons: step.reasons });
            tick();
          }
        }),
      ),
    );
    await Promise.all(shaFills);
  } finally {
    staging.cleanup();
    if (tmpDir !== undefined) fs.rmSync(tmpDir, { recursive: true, force: true });
    await hasher.close();
  }
  // What a killed earlier run left behind (.elfcopy-tmp-* entries) goes now: every step stages beside
  // its target, directories included, and so does the manifest.
  const written = new Set([...steps.map((s) => path.posix.dirname(s.path)), MANIFEST_DIR]);
  for (const d of written) {
    try {
      cleanupTemps(jail, d, { trustLink });
    } catch {
      // A directory that does not resolve was reported by the step that needed it.
    }
  }

  for (const step of steps) {
    if (step.op === 'mknod') {
      if (await makeDevice(jail, step.path, step.major, step.minor, step.mode, trustLink)) result.devices.push(step.path);
      else result.unchanged++;
      entries.push({ path: step.path, kind: 'device', mode: step.mode, reasons: step.reasons });
      tick();
    } else if (step.op === 'symlink') {
      const r = await symlinkAtomic(jail, step.path, step.target, { trustLink });
      if (r === 'unchanged') result.unchanged++;
      else result.linked.push(step.path);
      entries.push({ path: step.path, kind: 'symlink', target: step.target, reasons: step.reasons });
      tick();
    }
  }

  const installer = options.installer ?? 'copy';
  for (const e of entries) e.by = installer;
  const stale: ManifestEntry[] = [];
  if (options.prune && old) {
    const keep = new Set(entries.map((e) => e.path));
    // Only what this command installed before: a copy --prune never removes init's skeleton.
    stale.push(...old.entries.filter((e) => !keep.has(e.path) && (e.by ?? 'copy') === installer));
    // Files and links first, then directories deepest first, and only when empty.
    for (const e of stale.filter((x) => x.kind !== 'dir')) {
      if (await removeEntry(jail, e.path, { trustLink })) result.pruned.push(e.path);
    }
    for (const e of stale.filter((x) => x.kind === 'dir').sort((a, b) => b.path.length - a.path.length)) {
      if (await removeEntry(jail, e.path, { directory: true, trustLink })) result.pruned.push(e.path);
    }
  }
  if (!options.noManifest) {
    const gone = new Set(stale.map((e) => e.path));
    const merged = old ? mergeEntries(old.entries.filter((e) => !gone.has(e.path)), entries) : entries;
    const manifest: Manifest = { ...emptyManifest(options.generator ?? 'elfcopy'), entries: merged };
    result.manifestChanged = await writeManifest(jail, manifest, old);
  }
  return result;
}

/** What earlier runs installed and this one did not prune stays in the manifest (it is still there). */
function mergeEntries(old: readonly ManifestEntry[], now: readonly ManifestEntry[]): ManifestEntry[] {
  const byPath = new Map(old.map((e) => [e.path, e]));
  for (const e of now) byPath.set(e.path, e);
  return [...byPath.values()];
}

function readManifest(jail: Jail): Manifest | undefined {
  const text = readJailText(jail, MANIFEST_PATH);
  return text === undefined ? undefined : parseManifest(text);
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
  try {
    const tmpName = `.elfcopy-tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    // mknod runs in a child: /proc/self there is the child, so name our own descriptor by our pid.
    const tmp = dir.anchored ? `/proc/${process.pid}/fd/${dir.fd}/${tmpName}` : dir.entry(tmpName);
    const { execa } = await import('execa');
    const r = await execa('mknod', ['-m', mode.toString(8), tmp, 'c', String(major), String(minor)], { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) {
      throw new JailConflictError(p, `cannot create device node (mknod needs root): ${r.stderr.trim() || r.shortMessage}`);
    }
    fs.renameSync(dir.entry(tmpName), dir.entry(name));
  } finally {
    dir.close();
  }
  return true;
}

export { cleanupTemps };
