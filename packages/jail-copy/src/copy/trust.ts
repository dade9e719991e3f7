/**
 * Which links of a jail a run may follow although they leave it (inroot.ts): the mirror of the host's
 * own link at that path, or a link an earlier run made (the manifest says so, with this very target).
 */
import * as fs from 'node:fs';
import { SysRoot } from '@elfcopy/elf-deps';
import type { TrustLink } from '../confine/inroot.js';
import type { Manifest } from './manifest.js';

export function trustLinkFor(manifest: Manifest | undefined, hostRoot: string): TrustLink {
  const host = new SysRoot(hostRoot);
  const made = new Map<string, string>();
  for (const e of manifest?.entries ?? []) if (e.kind === 'symlink' && e.target !== undefined) made.set(e.path, e.target);
  return (link, target) => {
    if (made.get(link) === target) return true;
    try {
      return host.lstat(link)?.isSymbolicLink() === true && fs.readlinkSync(host.hostPath(host.realParent(link) ?? link)) === target;
    } catch {
      return false;
    }
  };
}
