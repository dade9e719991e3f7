/**
 * The manifest: what elfcopy installed in a jail, why, and for whom (path, source, sha256, mode, reason,
 * owners). It lets `--prune` remove what an earlier run of the same installer put there, this run no
 * longer needs, and no other installer claims — and nothing else — and lets a re-run skip hashing files
 * it already knows.
 *
 * Owners: `init`, or one id per copy input set (the copy's arguments: `elfcopy nginx` and `elfcopy
 * php-fpm8.2` into one jail are two installers, and a run of either never prunes the other's files).
 * The format stays `elfcopy.manifest/1`: `owners` and `installers` are additions, and `by` is still
 * written ('init' when init claims an entry), so an older elfcopy reading the file keeps init's entries.
 * An entry from before owners were recorded (no `owners`) is claimed by `init` when its `by` says so,
 * and otherwise by LEGACY_COPY: some copy, which one unknown — a prune keeps it.
 */
import { createHash } from 'node:crypto';

export { MANIFEST_DIR, MANIFEST_PATH } from './state-dir.js';

export interface ManifestEntry {
  path: string;
  kind: 'file' | 'symlink' | 'dir' | 'device';
  /** Host path copied from (files). */
  source?: string;
  sha256?: string;
  size?: number;
  mtimeMs?: number;
  mode?: number;
  /** Symlink target as written. */
  target?: string;
  reasons: string[];
  /** Written for older readers: 'init' when init claims the entry, else 'copy'. */
  by?: 'init' | 'copy';
  /** The installers that claim it (ids of Manifest.installers, or INIT_OWNER). */
  owners?: string[];
}

/** What an installer id stands for. */
export interface Installer {
  command: 'init' | 'copy';
  /** A copy's inputs, as resolved absolute paths, sorted. */
  inputs?: string[];
  /** A copy's --root, when it had one. */
  root?: string;
}

export const INIT_OWNER = 'init';
/** The owner of an entry an elfcopy that did not record owners installed through a copy. */
export const LEGACY_COPY = 'copy-unrecorded';

export interface Manifest {
  schema: 'elfcopy.manifest/1';
  generator: string;
  /** Owner id -> what it is (INIT_OWNER and LEGACY_COPY need no row). */
  installers?: Record<string, Installer>;
  entries: ManifestEntry[];
}

export function emptyManifest(generator: string): Manifest {
  return { schema: 'elfcopy.manifest/1', generator, entries: [] };
}

/** The installers that claim `e`: its recorded owners, or what an older manifest's `by` implies. */
export function ownersOf(e: ManifestEntry): string[] {
  if (Array.isArray(e.owners) && e.owners.every((o) => typeof o === 'string') && e.owners.length > 0) return e.owners;
  return [e.by === 'init' ? INIT_OWNER : LEGACY_COPY];
}

/**
 * The owner id of a copy of `inputs` (absolute, as the run resolved them) from `root`: the same
 * arguments in any order are the same installer. A short hash keeps each entry's `owners` small; the
 * manifest's `installers` says what it stands for.
 */
export function copyOwner(inputs: readonly string[], root?: string): { id: string; installer: Installer } {
  const installer: Installer = { command: 'copy', inputs: [...new Set(inputs)].sort(), ...(root !== undefined ? { root } : {}) };
  return { id: `copy-${createHash('sha256').update(JSON.stringify(installer)).digest('hex').slice(0, 16)}`, installer };
}

export function parseManifest(text: string): Manifest | undefined {
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    if (m.schema !== 'elfcopy.manifest/1' || !Array.isArray(m.entries)) return undefined;
    const entries = m.entries.filter(
      (e): e is ManifestEntry => typeof e === 'object' && e !== null && typeof (e as ManifestEntry).path === 'string' && typeof (e as ManifestEntry).kind === 'string',
    );
    const installers: Record<string, Installer> = {};
    if (typeof m.installers === 'object' && m.installers !== null) {
      for (const [id, v] of Object.entries(m.installers)) if (typeof v === 'object' && v !== null && (v.command === 'init' || v.command === 'copy')) installers[id] = v;
    }
    return { schema: 'elfcopy.manifest/1', generator: typeof m.generator === 'string' ? m.generator : 'unknown', installers, entries };
  } catch {
    return undefined;
  }
}

/** Stable text: sorted by path, so an unchanged jail gives a byte-identical manifest. */
export function serializeManifest(m: Manifest): string {
  const entries = [...m.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Keys in one order, however the object was built (a parsed file and a merged one compare equal).
  const installers = Object.fromEntries(Object.entries(m.installers ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify({ schema: m.schema, generator: m.generator, installers, entries }, null, 2) + '\n';
}
