/**
 * What `--prune` removes, as data: computed before anything is applied, printed by `--dry-run`, and
 * carried out by applyPlan exactly (the same paths, in this order). An entry goes when the installer
 * running now claimed it, its new plan no longer has it, and no other installer (init, another copy's
 * input set, a copy from before owners were recorded) claims it, and it is still what elfcopy put
 * there (a file edited or a link changed since is someone's work: kept); a directory only when
 * everything in it goes too (what someone else put there keeps it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Jail, lstatOrUndefined, missingInJail, type TrustLink } from '../confine/inroot.js';
import { readJailText } from '../confine/jail-text.js';
import { LEGACY_COPY, MANIFEST_PATH, ownersOf, parseManifest, type Manifest, type ManifestEntry } from './manifest.js';
import type { PlanStep } from './plan.js';
import { trustLinkFor } from './trust.js';

export interface PruneStep {
  op: 'remove';
  path: string;
  /** What the manifest says was there. */
  kind: ManifestEntry['kind'];
  reasons: string[];
}

export interface PrunePlan {
  remove: PruneStep[];
  /** Entries this run would otherwise remove that a copy from before owners were recorded may need (kept). */
  keptUnrecorded: string[];
  /** Entries this run would remove but that changed since elfcopy installed them (kept). */
  keptChanged: string[];
}

/** The jail's manifest (undefined when there is none, or it is not elfcopy's). */
export function readJailManifest(jail: Jail): Manifest | undefined {
  const text = readJailText(jail, MANIFEST_PATH);
  return text === undefined ? undefined : parseManifest(text);
}

/** Names in directory `p` of the jail (undefined when it is not a directory there, links not followed). */
function listing(jail: Jail, p: string, trustLink: TrustLink): string[] | undefined {
  let parent: ReturnType<Jail['openParentIfThere']>;
  try {
    parent = jail.openParentIfThere(p, { trustLink });
  } catch (err) {
    if (missingInJail(err)) return undefined;
    throw err;
  }
  if (!parent) return undefined;
  try {
    if (!lstatOrUndefined(parent.dir.entry(parent.name))?.isDirectory()) return undefined;
    const dir = parent.dir.openChild(parent.name);
    try {
      return fs.readdirSync(dir.entry('.'));
    } finally {
      dir.close();
    }
  } finally {
    parent.dir.close();
  }
}

/**
 * The removals a run of installer `owner` with `steps` makes in `jailDir` (nothing when the jail or its
 * manifest is missing). `hostRoot` is the root the plan mirrors (the links it may follow).
 */
export function planPrune(jailDir: string, owner: string, steps: readonly Pick<PlanStep, 'path'>[], hostRoot = '/'): PrunePlan {
  const out: PrunePlan = { remove: [], keptUnrecorded: [], keptChanged: [] };
  if (!fs.existsSync(jailDir)) return out;
  const jail = Jail.open(jailDir);
  const manifest = readJailManifest(jail);
  if (!manifest) return out;
  const trustLink = trustLinkFor(manifest, hostRoot);
  const keep = new Set(steps.map((s) => s.path));
  const stale: ManifestEntry[] = [];
  for (const e of manifest.entries) {
    if (keep.has(e.path)) continue;
    const owners = ownersOf(e);
    if (!owners.includes(owner)) {
      if (owners.length === 1 && owners[0] === LEGACY_COPY) out.keptUnrecorded.push(e.path);
      continue;
    }
    if (owners.length === 1) stale.push(e);
  }
  const gone = new Set<string>();
  // Files, links and devices first: each goes if anything is there that is not a directory.
  for (const e of stale.filter((x) => x.kind !== 'dir').sort(byPath)) {
    const st = jail.lstat(e.path, { trustLink });
    if (!st || st.isDirectory()) continue;
    if (changedSince(jail, e, st, trustLink)) {
      out.keptChanged.push(e.path);
      continue;
    }
    gone.add(e.path);
    out.remove.push({ op: 'remove', path: e.path, kind: e.kind, reasons: [`no longer needed (installed for: ${e.reasons[0] ?? '?'})`] });
  }
  // Then directories, deepest first, when everything in them goes.
  for (const e of stale.filter((x) => x.kind === 'dir').sort((a, b) => b.path.length - a.path.length || byPath(a, b))) {
    const names = listing(jail, e.path, trustLink);
    if (names === undefined || !names.every((n) => gone.has(path.posix.join(e.path, n)))) continue;
    gone.add(e.path);
    out.remove.push({ op: 'remove', path: e.path, kind: 'dir', reasons: [`no longer needed (installed for: ${e.reasons[0] ?? '?'})`] });
  }
  return out;
}

/** Not what the manifest says elfcopy installed at `e.path`: another kind, size, mtime or link target. */
function changedSince(jail: Jail, e: ManifestEntry, st: fs.Stats, trustLink: TrustLink): boolean {
  if (e.kind === 'file') {
    if (!st.isFile()) return true;
    if (e.size !== undefined && st.size !== e.size) return true;
    // A copy gets its source's mtime (utimes keeps microseconds): anything else is a later write.
    return e.mtimeMs !== undefined && Math.abs(st.mtimeMs - e.mtimeMs) > 1;
  }
  if (e.kind === 'symlink') {
    if (!st.isSymbolicLink()) return true;
    const parent = jail.openParentIfThere(e.path, { trustLink });
    if (!parent) return true;
    try {
      return fs.readlinkSync(parent.dir.entry(parent.name)) !== e.target;
    } finally {
      parent.dir.close();
    }
  }
  return false;
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
