/**
 * The manifest: what elfcopy installed in a jail and why (path, source, sha256, mode, reason). It lets
 * `--prune` remove what an earlier run installed and this run no longer needs — and nothing else — and
 * lets a re-run skip hashing files it already knows.
 */
export const MANIFEST_DIR = '/.elfcopy';
export const MANIFEST_PATH = '/.elfcopy/manifest.json';

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
  /** Which command installed it ('init' or 'copy'): --prune of a copy removes only what copies installed. */
  by?: 'init' | 'copy';
}

export interface Manifest {
  schema: 'elfcopy.manifest/1';
  generator: string;
  entries: ManifestEntry[];
}

export function emptyManifest(generator: string): Manifest {
  return { schema: 'elfcopy.manifest/1', generator, entries: [] };
}

export function parseManifest(text: string): Manifest | undefined {
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    if (m.schema !== 'elfcopy.manifest/1' || !Array.isArray(m.entries)) return undefined;
    const entries = m.entries.filter(
      (e): e is ManifestEntry => typeof e === 'object' && e !== null && typeof (e as ManifestEntry).path === 'string' && typeof (e as ManifestEntry).kind === 'string',
    );
    return { schema: 'elfcopy.manifest/1', generator: typeof m.generator === 'string' ? m.generator : 'unknown', entries };
  } catch {
    return undefined;
  }
}

/** Stable text: sorted by path, so an unchanged jail gives a byte-identical manifest. */
export function serializeManifest(m: Manifest): string {
  const entries = [...m.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return JSON.stringify({ ...m, entries }, null, 2) + '\n';
}
