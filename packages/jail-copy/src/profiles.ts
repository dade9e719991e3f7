/**
 * Profiles: named sets of runtime files that DT_NEEDED never shows (gconv modules, the tz database, PHP's
 * conf.d, ImageMagick coders, CA bundles, …). Each profile is a small declarative JSON file in
 * `profiles/` — globs, variables and a few named rules — saying why it exists; this module only
 * interprets them.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { ElfDepsError, globComponentRegExp, type SysRoot } from '@elfcopy/elf-deps';
import { globInRoot } from './glob.js';

export interface ProfileRule {
  kind: 'nginx-load-module' | 'openssl-modules' | 'gconv-allow-list';
  config?: string;
  prefix?: string;
}

export interface Profile {
  name: string;
  why: string;
  auto?: { never?: boolean; sonames?: string[]; inputs?: string[] };
  requires?: string[];
  vars?: Record<string, { fromInput: string; default: string }>;
  files?: string[];
  elf?: string[];
  exclude?: string[];
  rules?: ProfileRule[];
}

export class ProfileError extends ElfDepsError {
  override name = 'ProfileError';
}

/** The directory holding the shipped profiles (works from the ESM build and from the CLI bundle). */
export function profilesDir(): string {
  if (process.env.ELFCOPY_PROFILES) return process.env.ELFCOPY_PROFILES;
  const req: NodeRequire = typeof require === 'function' ? require : createRequire(import.meta.url);
  return path.join(path.dirname(req.resolve('@elfcopy/jail-copy/package.json')), 'profiles');
}

export function loadProfiles(dir: string = profilesDir()): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Profile;
    if (typeof p.name !== 'string' || typeof p.why !== 'string') throw new ProfileError(path.join(dir, f), 'a profile needs "name" and "why"');
    out.set(p.name, p);
  }
  return out;
}

export interface ProfileContext {
  root: SysRoot;
  /** The inputs (in-root paths) the jail is for. */
  inputs: readonly string[];
  /** SONAMEs in their closure. */
  sonames: ReadonlySet<string>;
  /** Multiarch triplet of the target (x86_64-linux-gnu). */
  triplet: string;
  /** Charsets to keep gconv modules for (undefined: all). */
  gconvCharsets?: string[];
}

export interface ProfileSelection {
  profiles: Profile[];
  files: { path: string; reason: string }[];
  elf: { path: string; reason: string }[];
  warnings: string[];
}

/** Which profiles `--with` names; `auto` picks by what the closure contains. */
export function selectProfiles(all: Map<string, Profile>, names: readonly string[], ctx: ProfileContext): Profile[] {
  const chosen = new Map<string, Profile>();
  const add = (name: string): void => {
    const p = all.get(name);
    if (!p) throw new ProfileError(name, `no such profile (known: ${[...all.keys()].join(', ')}, auto)`);
    if (chosen.has(name)) return;
    chosen.set(name, p);
    for (const r of p.requires ?? []) add(r);
  };
  for (const n of names) {
    if (n === 'auto') {
      for (const p of all.values()) {
        if (p.auto?.never) continue;
        const bySoname = p.auto?.sonames?.some((s) => ctx.sonames.has(s)) ?? false;
        const byInput = p.auto?.inputs?.some((re) => ctx.inputs.some((i) => new RegExp(re).test(i))) ?? false;
        if (bySoname || byInput) add(p.name);
      }
    } else add(n);
  }
  return [...chosen.values()];
}

function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{([A-Z_]+)\}/g, (m, name: string) => vars[name] ?? m);
}

/** Expands the chosen profiles into files and ELF modules to bring, each with the profile's reason. */
export function expandProfiles(profiles: readonly Profile[], ctx: ProfileContext): ProfileSelection {
  const sel: ProfileSelection = { profiles: [...profiles], files: [], elf: [], warnings: [] };
  const seen = new Set<string>();
  for (const p of profiles) {
    const vars: Record<string, string> = { TRIPLET: ctx.triplet };
    for (const [name, spec] of Object.entries(p.vars ?? {})) {
      const values = new Set<string>();
      for (const i of ctx.inputs) {
        const m = new RegExp(spec.fromInput).exec(i);
        if (m?.[1]) values.add(m[1]);
      }
      vars[name] = values.size === 1 ? [...values][0]! : spec.default;
    }
    const excludes = (p.exclude ?? []).map((e) => expandVars(e, vars));
    const excluded = (x: string): boolean => excludes.some((e) => matchesPath(e, x));
    const reason = `profile ${p.name}`;
    const push = (list: { path: string; reason: string }[], x: string): void => {
      if (excluded(x) || seen.has(x)) return;
      seen.add(x);
      list.push({ path: x, reason });
    };
    let matchedAny = false;
    for (const g of p.files ?? []) {
      const hits = globInRoot(ctx.root, expandVars(g, vars));
      matchedAny ||= hits.length > 0;
      for (const h of hits) push(sel.files, h);
    }
    let elfHits: string[] = [];
    for (const g of p.elf ?? []) elfHits.push(...globInRoot(ctx.root, expandVars(g, vars)));
    for (const rule of p.rules ?? []) {
      if (rule.kind === 'gconv-allow-list' && ctx.gconvCharsets) elfHits = gconvAllowList(ctx, elfHits, ctx.gconvCharsets);
      if (rule.kind === 'nginx-load-module') elfHits.push(...nginxModules(ctx.root, rule.config ?? '/etc/nginx/nginx.conf', rule.prefix ?? '/usr/share/nginx'));
      if (rule.kind === 'openssl-modules') elfHits.push(...opensslModules(ctx.root, ctx.triplet));
    }
    matchedAny ||= elfHits.length > 0;
    for (const h of elfHits) push(sel.elf, h);
    if (!matchedAny) sel.warnings.push(`profile ${p.name}: none of its files exist on this machine`);
  }
  return sel;
}

function matchesPath(pattern: string, p: string): boolean {
  const pp = pattern.split('/').filter(Boolean);
  const xs = p.split('/').filter(Boolean);
  const rec = (i: number, j: number): boolean => {
    if (i === pp.length) return j === xs.length;
    if (pp[i] === '**') return xs.length >= j && [...Array(xs.length - j + 1).keys()].some((k) => rec(i + 1, j + k));
    return j < xs.length && globComponentRegExp(pp[i]!).test(xs[j]!) && rec(i + 1, j + 1);
  };
  return rec(0, 0);
}

/** `load_module` lines of nginx.conf and the files it includes (modules-enabled/*.conf), relative to the prefix. */
export function nginxModules(root: SysRoot, config: string, prefix: string): string[] {
  const out: string[] = [];
  const visited = new Set<string>();
  const visit = (file: string, depth: number): void => {
    if (visited.has(file) || depth > 16) return;
    visited.add(file);
    let text: string | undefined;
    try {
      text = root.readText(file);
    } catch {
      text = undefined;
    }
    if (text === undefined) return;
    for (const stmt of text.replace(/#[^\n]*/g, '').split(';')) {
      const words = stmt.trim().split(/\s+/);
      const arg = words[1]?.replace(/^["']|["']$/g, '');
      if (!arg) continue;
      if (words[0] === 'load_module') out.push(arg.startsWith('/') ? arg : path.posix.join(prefix, arg));
      if (words[0] === 'include') {
        const pat = arg.startsWith('/') ? arg : path.posix.join(path.posix.dirname(config), arg);
        for (const f of globInRoot(root, pat)) visit(f, depth + 1);
      }
    }
  };
  visit(config, 0);
  return out.filter((m) => root.lstat(m) !== undefined);
}

/** Providers activated in openssl.cnf (beyond default and base) and engines it names, as module paths. */
export function opensslModules(root: SysRoot, triplet: string): string[] {
  let text: string | undefined;
  try {
    text = root.readText('/usr/lib/ssl/openssl.cnf');
  } catch {
    text = undefined;
  }
  if (!text) return [];
  const sections = new Map<string, Map<string, string>>();
  let cur = new Map<string, string>();
  sections.set('', cur);
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const sec = /^\[\s*([^\]\s]+)\s*\]$/.exec(line);
    if (sec) {
      cur = new Map();
      sections.set(sec[1]!, cur);
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (kv) cur.set(kv[1]!, kv[2]!);
  }
  const out: string[] = [];
  for (const [name, body] of sections) {
    if (body.get('activate') !== undefined && name !== 'default_sect' && name !== 'base_sect') {
      const mod = body.get('module') ?? `/usr/lib/${triplet}/ossl-modules/${name.replace(/_sect$/, '')}.so`;
      out.push(mod);
    }
    const dyn = body.get('dynamic_path');
    if (dyn) out.push(dyn);
  }
  return out.filter((m) => root.lstat(m) !== undefined);
}

/**
 * gconv-modules: keep only the modules that convert from or to the allowed charsets (aliases resolved).
 * iconv goes through INTERNAL, so one module per charset is enough.
 */
export function gconvAllowList(ctx: ProfileContext, modules: string[], charsets: string[]): string[] {
  const dir = `/usr/lib/${ctx.triplet}/gconv`;
  const texts = [dir + '/gconv-modules', ...globInRoot(ctx.root, dir + '/gconv-modules.d/*.conf')].map((f) => {
    try {
      return ctx.root.readText(f) ?? '';
    } catch {
      return '';
    }
  });
  const alias = new Map<string, string>();
  const files = new Map<string, Set<string>>();
  const norm = (s: string): string => s.toUpperCase().replace(/\/+$/, '');
  for (const line of texts.join('\n').split('\n')) {
    const w = line.replace(/#.*/, '').trim().split(/\s+/);
    if (w[0] === 'alias' && w[1] && w[2]) alias.set(norm(w[1]), norm(w[2]));
    if (w[0] === 'module' && w[1] && w[2] && w[3]) {
      for (const cs of [norm(w[1]), norm(w[2])]) {
        const set = files.get(cs) ?? new Set<string>();
        set.add(w[3]);
        files.set(cs, set);
      }
    }
  }
  const keep = new Set<string>();
  for (const c of charsets) {
    const real = alias.get(norm(c)) ?? norm(c);
    for (const f of files.get(real) ?? []) keep.add(f);
  }
  return modules.filter((m) => keep.has(path.posix.basename(m, '.so')));
}
