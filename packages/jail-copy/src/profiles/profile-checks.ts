/**
 * What the jail checks learn from profiles. verify: a program a profile is for is not complete without
 * the files the profile says it needs (a python without its standard library fails at start, whatever
 * its libraries). audit: a shell that a profile brought on purpose (git's /bin/sh, the shell profile's
 * shell) is reported with the profile's reason, below the default --fail-on level.
 */
import * as path from 'node:path';
import type { SysRoot } from '@elfcopy/elf-deps';
import type { Finding } from '../findings.js';
import { MANIFEST_PATH, parseManifest } from '../copy/manifest.js';
import { expandPattern, loadProfiles, profileEnv, type Profile } from './profiles.js';

/** Findings for the programs of a jail whose profiles' `needs` are missing there. */
export function profileNeedsFindings(root: SysRoot, elfFiles: readonly string[]): Finding[] {
  const out: Finding[] = [];
  let all: Map<string, Profile>;
  try {
    all = loadProfiles();
  } catch {
    return out;
  }
  const sonames = new Set(elfFiles.map((f) => path.posix.basename(f)));
  for (const p of all.values()) {
    if (!p.needs?.length || !p.auto?.inputs?.length) continue;
    const res = p.auto.inputs.map((r) => new RegExp(r));
    const programs = elfFiles.filter((f) => res.some((r) => r.test(f)));
    if (programs.length === 0) continue;
    let env: Map<string, string[]>;
    try {
      env = profileEnv(p, { root, inputs: programs, sonames, triplet: tripletOf(root) });
    } catch {
      continue;
    }
    for (const need of p.needs) {
      for (const e of expandPattern(need.path, env)) {
        if (root.stat(e.pattern) !== undefined) continue;
        out.push({
          rule: 'profile-incomplete',
          severity: 'high',
          path: programs[0] ?? e.pattern,
          message: `needs ${e.pattern}, ${need.what}, which is not in the jail (profile ${p.name}; copy with --with auto)`,
        });
      }
    }
  }
  return out;
}

/** The multiarch triplet whose library directory the jail has (x86_64-linux-gnu when none is found). */
function tripletOf(root: SysRoot): string {
  for (const n of root.listDir('/usr/lib') ?? []) if (/^[a-z0-9_]+-linux-gnu[a-z]*$/.test(n)) return n;
  return 'x86_64-linux-gnu';
}

/** Why a profile installed the shell at `p` (in-jail path), per the jail's manifest; undefined when none did. */
export function shellOnPurpose(root: SysRoot, p: string, cache: Map<string, string[]> = manifestReasons(root)): string | undefined {
  const reasons = cache.get(p) ?? [];
  let all: Map<string, Profile> | undefined;
  for (const r of reasons) {
    const m = /^profile ([a-z][a-z0-9-]*)$/.exec(r);
    if (!m) continue;
    try {
      all ??= loadProfiles();
    } catch {
      return undefined;
    }
    const why = all.get(m[1] ?? '')?.shell;
    if (why) return `profile ${m[1]}: ${why}`;
  }
  return undefined;
}

/** In-jail path → the reasons the manifest records for it. */
export function manifestReasons(root: SysRoot): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let text: string | undefined;
  try {
    text = root.readText(MANIFEST_PATH, Number.POSITIVE_INFINITY);
  } catch {
    text = undefined;
  }
  for (const e of parseManifest(text ?? '')?.entries ?? []) out.set(e.path, e.reasons);
  return out;
}
