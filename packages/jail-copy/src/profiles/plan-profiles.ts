/**
 * A copy plan with profiles: the closure decides which profiles `auto` picks, the profiles add modules
 * whose closures may call for more profiles (php brings imagick.so, which brings libMagickCore, which
 * calls for the imagemagick profile) — so selection runs to a fixed point.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SysRoot } from '@elfcopy/elf-deps';
import { planCopy, resolverFor, type CopyPlan, type PlanOptions } from '../copy/plan.js';
import { expandProfiles, loadProfiles, profilesDir, selectProfiles, type Profile, type ProfileContext } from './profiles.js';
import type { ProfileRequest } from './profile-spec.js';

export interface ProfilePlanOptions extends PlanOptions {
  /** Profile names and 'auto', or a parsed `--with` spec (parseProfileSpec). Default: none. */
  profiles?: string[] | ProfileRequest;
  gconvCharsets?: string[];
}

export interface ProfilePlan extends CopyPlan {
  profiles: string[];
}

const MAX_ROUNDS = 4;

/** The profiles directory and its definitions, as host paths. */
function profileFiles(): string[] {
  const dir = profilesDir();
  return [dir, ...fs.readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => path.join(dir, n))];
}

/** A config the host keeps readable to its service's group only stays so: the copy takes the host's owner. */
function keepHostOwner(plan: CopyPlan, root: SysRoot, paths: readonly string[]): void {
  if (paths.length === 0) return;
  const keep = new Set(paths);
  for (const s of plan.steps) {
    if (s.op !== 'copy' || !keep.has(s.path)) continue;
    const st = root.lstat(s.path);
    if (st) {
      s.uid = st.uid;
      s.gid = st.gid;
    }
  }
}

export function planCopyWithProfiles(paths: readonly string[], jail: string, options: ProfilePlanOptions = {}): ProfilePlan {
  const { profiles: asked = [], gconvCharsets, ...planOptions } = options;
  const request: ProfileRequest = Array.isArray(asked) ? { names: [...asked], without: [], params: {} } : (asked as ProfileRequest);
  // One resolver for every round: each round adds modules, the files already parsed stay parsed.
  const resolver = resolverFor(planOptions);
  let plan = planCopy(paths, jail, planOptions, resolver);
  if (request.names.length === 0) return { ...plan, profiles: [] };
  const root = resolver.root;
  const all = loadProfiles();
  // The inputs as the bare plan has them (a link's target too): later rounds' steps carry profile
  // reasons as well, where a profile brings a file that is also an input.
  // A script's interpreters count as inputs, by their names and their real paths, as a named input's
  // link target does: `#!/usr/bin/python3` calls for the python profile of python3.11.
  const scriptPrograms = (plan.scripts ?? []).flatMap((s) => s.programs.flatMap((p) => [p, root.realpath(p) ?? p]));
  const inputs = [...new Set([...paths.map((p) => path.resolve(p)), ...plan.steps.filter((s) => s.op === 'copy' && s.reasons.includes('input')).map((s) => s.path), ...scriptPrograms])];
  let chosen: Profile[] = [];
  const extraConsulted = new Set<string>();
  const extraListings = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const sonames = new Set<string>();
    for (const s of plan.steps) if (s.op === 'copy' || s.op === 'symlink') sonames.add(path.posix.basename(s.path));
    const ctx: ProfileContext = { root, inputs, sonames, triplet: plan.triplet ?? 'x86_64-linux-gnu' };
    if (gconvCharsets) ctx.gconvCharsets = gconvCharsets;
    ctx.params = request.params;
    const next = selectProfiles(all, request, ctx);
    if (round > 0 && next.length === chosen.length) break;
    chosen = next;
    const sel = expandProfiles(chosen, ctx);
    plan = planCopy(paths, jail, {
      ...planOptions,
      extraElf: [...(planOptions.extraElf ?? []), ...sel.elf],
      extraFiles: [...(planOptions.extraFiles ?? []), ...sel.files],
    }, resolver);
    plan.warnings.push(...sel.warnings);
    keepHostOwner(plan, root, sel.keepOwner);
    for (const c of sel.consulted) extraConsulted.add(c);
    for (const c of sel.consultedListings) extraListings.add(c);
    for (const st of plan.steps) {
      if (st.op === 'mkdir' && sel.rootOwnedDirs.includes(st.path)) {
        st.uid = 0;
        st.mode &= ~0o022;
      }
    }
  }
  // The profile definitions decide the plan too.
  if (plan.consulted) {
    const files = profileFiles();
    plan.consulted = [...new Set([...plan.consulted, ...files, ...extraConsulted, ...extraListings])].sort();
    // profileFiles() lists the directory first: its listing decides which profiles exist.
    plan.consultedListings = [...new Set([...(plan.consultedListings ?? []), ...files.slice(0, 1), ...extraListings])].sort();
  }
  // A fallback profile that found nothing to bring (ls: coreutils is base) was not applied.
  const applied = chosen.filter((p) => !p.auto?.fallback || plan.steps.some((s) => s.reasons.includes(`profile ${p.name}`)));
  return { ...plan, profiles: applied.map((p) => p.name) };
}
