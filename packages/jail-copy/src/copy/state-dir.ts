/**
 * Where elfcopy keeps its own state in a jail: JAIL/.elfcopy (root-only), holding the manifest and the
 * plan cache. Apart from manifest.ts so that a run that only reads the plan cache (nothing to do) loads
 * no crypto (~3 ms of Node's start-up: manifest.ts hashes installer ids).
 */
export const MANIFEST_DIR = '/.elfcopy';
export const MANIFEST_PATH = '/.elfcopy/manifest.json';
