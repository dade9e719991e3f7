/**
 * The site and dist-packages a python profile brings on request: each top-level package or module
 * (NAME/, NAME.py, NAME.*.so) with the metadata of the distribution that ships it (its *.dist-info or
 * *.egg-info, found through top_level.txt or the distribution's name), so importlib.metadata and
 * pkg_resources see it as installed. `all` brings every directory whole.
 */
import * as path from 'node:path';
import type { SysRoot } from '@elfcopy/elf-deps';
import { globInRoot } from '@elfcopy/elf-deps/internal';
import { PROFILE_GLOB } from './profile-glob.js';

/** Where Debian's python3 looks for packages beside the stdlib (site.py's getsitepackages, Debian patch). */
export function sitePackageDirs(versions: readonly string[]): string[] {
  const dirs = ['/usr/lib/python3/dist-packages'];
  for (const v of versions) dirs.push(`/usr/local/lib/python${v}/dist-packages`, `/usr/lib/python${v}/site-packages`, `/usr/lib/python${v}/dist-packages`);
  return dirs;
}

// PEP 503: distribution names compare lower-cased with runs of -_. as one '-'.
const normalize = (s: string): string => s.toLowerCase().replace(/[-_.]+/g, '-');

export function pythonPackageFiles(root: SysRoot, versions: readonly string[], packages: readonly string[]): { files: string[]; warnings: string[] } {
  const files: string[] = [];
  const warnings: string[] = [];
  if (packages.length === 0) return { files, warnings };
  const dirs = sitePackageDirs(versions).filter((d) => root.stat(d)?.isDirectory());
  if (packages.includes('all')) {
    for (const d of dirs) files.push(...globInRoot(root, `${d}/**`, PROFILE_GLOB));
    return { files, warnings };
  }
  for (const name of packages) {
    let hit = false;
    for (const d of dirs) {
      const entries = [...(root.listDir(d) ?? [])];
      for (const e of entries) {
        const own = e === name || e === `${name}.py` || (e.startsWith(`${name}.`) && e.endsWith('.so')) || e === `${name}.pth`;
        let meta = false;
        const m = /^(.+?)-[^-]*\.(?:dist|egg)-info$/.exec(e) ?? /^(.+?)\.(?:dist|egg)-info$/.exec(e);
        if (m) {
          let top: string[] = [];
          try {
            top = (root.readText(path.posix.join(d, e, 'top_level.txt')) ?? '').split('\n').map((l) => l.trim());
          } catch {
            top = [];
          }
          meta = top.includes(name) || normalize(m[1] ?? '') === normalize(name);
        }
        if (!own && !meta) continue;
        if (own) hit = true;
        files.push(...globInRoot(root, `${d}/${e}/**`, PROFILE_GLOB), ...globInRoot(root, `${d}/${e}`, PROFILE_GLOB));
      }
    }
    if (!hit) warnings.push(`python package '${name}' is in none of ${dirs.join(', ') || sitePackageDirs(versions).join(', ')}`);
  }
  return { files: [...new Set(files)], warnings };
}
