/**
 * The plan cache: a second run over an unchanged host into an unchanged jail has nothing to do, so it
 * should cost a stat per path, not a new plan. After a run, JAIL/.elfcopy/plan-cache.json keeps the plan
 * with two lists of signatures (lstat: device, inode, mode, owner, size, mtime, ctime):
 *
 * - host: every path the plan was computed from (each ELF opened, each directory listed, each component
 *   of each path resolved, nsswitch.conf, the profiles) and every directory above them, taken right
 *   after planning. A new library in a searched directory changes that directory's mtime; a replaced
 *   file or link changes its inode or ctime; so any change that could change the plan shows.
 * - jail: the jail root and every path the plan installs, taken after the run. A file written,
 *   chmod-ed, removed or renamed, a directory swapped for a link, an entry added to a directory: each
 *   changes a signature (ctime cannot be set from user space).
 *
 * A later run with the same key (arguments, options, working directory, user, elfcopy build) whose
 * signatures all still match reuses the plan and writes nothing; anything else plans and applies as
 * usual and writes a new cache. The reuse path only reads: it cannot be led to write outside the jail.
 * Known limit, as for make and ninja: a file changed within the same ~0.2 µs clock tick as the cache
 * was taken, keeping its size and inode, would go unnoticed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MissingLibrary } from '@elfcopy/elf-deps';
import { Jail } from '../confine/inroot.js';
import { readJailText } from '../confine/jail-text.js';
import { MANIFEST_DIR, MANIFEST_PATH } from './state-dir.js';
import type { NssReport, PlanStep } from './plan.js';

export const PLAN_CACHE_PATH = `${MANIFEST_DIR}/plan-cache.json`;

/** What a run reports that the plan decided: enough to report a reused plan exactly as a fresh one. */
export interface CachedPlan {
  steps: PlanStep[];
  missing: Pick<MissingLibrary, 'name' | 'neededBy' | 'reason' | 'detail'>[];
  warnings: string[];
  profiles: string[];
  nss?: NssReport;
}

/** [host path, signature] */
export type PathSignature = [string, string];

interface PlanCacheFile {
  schema: 'elfcopy.plan-cache/1';
  key: string;
  plan: CachedPlan;
  host: PathSignature[];
  jail: PathSignature[];
}

/**
 * A stable key for everything besides the file system that decides a plan and its application: the
 * material itself as JSON (a hash would only cost loading crypto on a run that has nothing to do).
 */
export function planCacheKey(material: unknown): string {
  return JSON.stringify(material);
}

/**
 * The lstat signature of a host path (its last component not followed); '-' when it is not there.
 * `identity` for a directory whose listing did not count: which directory it is, not what it holds
 * (an entry added to /tmp beside an input does not change the plan; the input's own signature does).
 */
export function signatureOf(hostPath: string, identity = false): string {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(hostPath, { throwIfNoEntry: false });
  } catch {
    // ENOTDIR, EACCES, ELOOP: not there as a path, which is itself a state to compare.
    return '-';
  }
  if (!st) return '-';
  if (identity && st.isDirectory()) return `d${st.dev}:${st.ino}:${st.mode}:${st.uid}:${st.gid}`;
  return `${st.dev}:${st.ino}:${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The paths and every directory above them, each once. */
function withAncestors(paths: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    let cur = path.resolve(p);
    while (!out.has(cur)) {
      out.add(cur);
      const up = path.dirname(cur);
      if (up === cur) break;
      cur = up;
    }
  }
  return [...out].sort();
}

function isInside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The jail as given and as its real path: a consulted path may be written either way. */
function jailForms(jailDir: string): { given: string; real: string } {
  const given = path.resolve(jailDir);
  let real = given;
  try {
    real = fs.realpathSync(given);
  } catch {
    // A jail that does not resolve is refused elsewhere; compare as given.
  }
  return { given, real };
}

/** `p` re-rooted on the jail's real path when it lies in the jail; undefined when it does not. */
function inJail(p: string, jail: { given: string; real: string }): string | undefined {
  const abs = path.resolve(p);
  if (isInside(abs, jail.real)) return abs;
  if (isInside(abs, jail.given)) return jail.real + abs.slice(jail.given.length);
  return undefined;
}

/**
 * Signatures of the consulted host paths outside the jail (the jail's own are taken after the run).
 * `consulted` already holds the directories that matter (CopyPlan.consulted: those up to the sysroot);
 * of the directories, only those in `listings` count with their content.
 */
export function hostSignatures(consulted: readonly string[], listings: readonly string[], jailDir: string): PathSignature[] {
  const jail = jailForms(jailDir);
  const listed = new Set(listings.map((p) => path.resolve(p)));
  return [...new Set([...consulted, ...listings].map((p) => path.resolve(p)))]
    .filter((p) => inJail(p, jail) === undefined)
    .sort()
    .map((p) => [p, signatureOf(p, !listed.has(p))]);
}

/**
 * Signatures of the jail as a run leaves it: its root, every path the plan installs, the manifest, and
 * consulted paths inside the jail (its nsswitch.conf). The cache's own directory is left out (writing
 * the cache changes it); the manifest inside it is kept.
 */
function jailSignatures(jailDir: string, steps: readonly PlanStep[], consulted: readonly string[]): PathSignature[] {
  const forms = jailForms(jailDir);
  const jail = forms.real;
  const cacheDir = path.join(jail, MANIFEST_DIR);
  const paths = [jail, path.join(jail, MANIFEST_PATH), ...steps.map((s) => path.join(jail, s.path))];
  for (const c of consulted) {
    const p = inJail(c, forms);
    if (p !== undefined && !isInside(p, cacheDir)) paths.push(p);
  }
  const all = new Set<string>();
  for (const p of withAncestors(paths)) if (isInside(p, jail) && p !== cacheDir) all.add(p);
  return [...all].sort().map((p) => [p, signatureOf(p)]);
}

function allMatch(sigs: readonly PathSignature[]): boolean {
  for (const [p, sig] of sigs) if (signatureOf(p, sig.startsWith('d')) !== sig) return false;
  return true;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isSignatureList = (v: unknown): v is PathSignature[] => Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && isString(e[0]) && isString(e[1]));

/** The cache file, when it has every field a reuse reads, of the right type; otherwise undefined. */
function parseCacheFile(text: string): PlanCacheFile | undefined {
  let c: Partial<PlanCacheFile>;
  try {
    c = JSON.parse(text) as Partial<PlanCacheFile>;
  } catch {
    return undefined;
  }
  if (typeof c !== 'object' || c === null || c.schema !== 'elfcopy.plan-cache/1' || !isString(c.key)) return undefined;
  if (!isSignatureList(c.host) || !isSignatureList(c.jail) || typeof c.plan !== 'object' || c.plan === null) return undefined;
  const { steps, missing, warnings, profiles } = c.plan;
  if (!Array.isArray(steps) || !steps.every((st) => typeof st === 'object' && st !== null && isString(st.op) && isString(st.path))) return undefined;
  if (!Array.isArray(missing) || !missing.every((m) => typeof m === 'object' && m !== null && isString(m.name) && isString(m.reason) && Array.isArray(m.neededBy) && m.neededBy.every(isString))) return undefined;
  if (!Array.isArray(warnings) || !warnings.every(isString) || !Array.isArray(profiles) || !profiles.every(isString)) return undefined;
  return c as PlanCacheFile;
}

/**
 * The cached plan of JAIL when its key is `key` and nothing it depends on changed; otherwise
 * undefined (no cache, another key, a changed host or jail, an unreadable or malformed cache file).
 */
export function reusablePlan(jailDir: string, key: string): CachedPlan | undefined {
  let text: string | undefined;
  const jail = Jail.open(jailDir);
  try {
    text = readJailText(jail, PLAN_CACHE_PATH);
  } catch {
    return undefined;
  }
  const cache = text === undefined ? undefined : parseCacheFile(text);
  if (!cache || cache.key !== key) return undefined;
  return allMatch(cache.jail) && allMatch(cache.host) ? cache.plan : undefined;
}

/**
 * Writes JAIL's plan cache after a successful run: `host` from hostSignatures() taken right after
 * planning, the jail's signatures now.
 */
export async function savePlanCache(jailDir: string, key: string, plan: CachedPlan, host: PathSignature[], consulted: readonly string[]): Promise<void> {
  const jail = Jail.open(jailDir);
  const file: PlanCacheFile = { schema: 'elfcopy.plan-cache/1', key, plan, host, jail: jailSignatures(jailDir, plan.steps, consulted) };
  const text = JSON.stringify(file) + '\n';
  let old: string | undefined;
  try {
    old = readJailText(jail, PLAN_CACHE_PATH);
  } catch {
    old = undefined;
  }
  // A run that found everything as the cache says leaves the cache untouched too.
  if (old === text) return;
  // Only a run that wrote something gets here: the file operations load now, not on a run that reuses.
  const { writeJailText } = await import('./fileops.js');
  await writeJailText(jail, PLAN_CACHE_PATH, text);
}
