/**
 * Profiles: named sets of runtime files that DT_NEEDED never shows (gconv modules, the tz database, PHP's
 * conf.d, ImageMagick coders, CA bundles, …). Each profile is a small declarative JSON file in
 * `profiles/` — globs, variables and a few named rules — saying why it exists; this module only
 * interprets them.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { ElfDepsError, hasElfMagic, type SysRoot } from '@elfcopy/elf-deps';
import { globInRoot, matchesGlobPath } from '@elfcopy/elf-deps/internal';
import { PROFILE_GLOB } from './profile-glob.js';
import { localeFiles } from './locale-files.js';
import type { ProfileRequest } from './profile-spec.js';
import { isProgramPath, packageRuntimeFiles } from './package-files.js';
import { pythonPackageFiles } from './python-packages.js';

export interface ProfileRule {
  kind: 'nginx-load-module' | 'openssl-modules' | 'gconv-allow-list' | 'locale-names' | 'python-packages' | 'dpkg-runtime';
  config?: string;
  prefix?: string;
}

/** A parameter a profile takes (`--with NAME:KEY=V+V`); referenced in its patterns as `${KEY}`. */
export interface ProfileParam {
  why: string;
  /** Values when none are given. */
  default?: string[];
  /** `--with NAME:V+V` (no `KEY=`) gives this parameter. */
  positional?: boolean;
  /** Closed set of values, each bringing these patterns (ELF files among them with closures). */
  choices?: Record<string, string[]>;
}

/** A variable of a profile's patterns (`${NAME}`), one value per input or soname that matches. */
export interface ProfileVar {
  /** A regular expression over the inputs (in-root paths); group 1 is the value. */
  fromInput?: string;
  /** The same over the closure's sonames (libperl.so.5.36 → 5.36). */
  fromSoname?: string;
  /**
   * The same over the bytes of the inputs matching `of`: what a program has compiled in (perl's own
   * @INC, `/usr/share/perl/5.36`), where neither its name nor a soname says it.
   */
  fromContents?: { of: string; match: string };
  /** The value when nothing matches; "" drops the patterns that use the variable. */
  default: string;
}

export interface Profile {
  name: string;
  why: string;
  /**
   * When `auto` picks the profile: an input matches one of `inputs`, or the closure has one of
   * `sonames` — and one of the paths of `ifExists` (when given) exists in the root. `never`: only by name.
   */
  auto?: {
    never?: boolean;
    sonames?: string[];
    inputs?: string[];
    ifExists?: string[];
    /** Picked for a program (an input in a bin directory) that no other chosen profile's `inputs` claims. */
    fallback?: boolean;
  };
  requires?: string[];
  vars?: Record<string, ProfileVar>;
  params?: Record<string, ProfileParam>;
  files?: string[];
  /** ELF files to bring with their closures (the non-ELF files among the matches are brought as files). */
  elf?: string[];
  exclude?: string[];
  rules?: ProfileRule[];
  /** Files whose host owner the copy keeps (a config only the service's group may read). */
  keepOwner?: string[];
  /**
   * Directories the jail makes root's and not group- or world-writable, group kept, where the host lets
   * the service write (Debian's /etc/redis, for CONFIG REWRITE): a jailed service does not rewrite its config.
   */
  rootOwnedDirs?: string[];
  /** What verify requires in a jail holding a program this profile is for. */
  needs?: { path: string; what: string }[];
  /** Why the shells this profile brings are there on purpose (audit reports them with this reason). */
  shell?: string;
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

/** The most of a program `fromContents` reads. */
const MAX_PROGRAM_BYTES = 256 * 1024 * 1024;

const isStringList = (v: unknown): boolean => v === undefined || (Array.isArray(v) && v.every((x) => typeof x === 'string'));

/** One profile file, checked field by field: a malformed profile is an error naming the file, never a crash later. */
function parseProfile(file: string, text: string): Profile {
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof p !== 'object' || p === null) throw new ProfileError(file, 'a profile is a JSON object');
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || typeof o.why !== 'string') throw new ProfileError(file, 'a profile needs "name" and "why"');
  for (const k of ['requires', 'files', 'elf', 'exclude', 'keepOwner', 'rootOwnedDirs'] as const) {
    if (!isStringList(o[k])) throw new ProfileError(file, `"${k}" must be a list of strings`);
  }
  for (const [k, v] of Object.entries((o.params ?? {}) as Record<string, unknown>)) {
    const pv = v as Partial<ProfileParam> | null;
    if (!/^[a-z][a-z0-9-]*$/.test(k) || typeof pv !== 'object' || pv === null || typeof pv.why !== 'string' || !isStringList(pv.default)) {
      throw new ProfileError(file, `parameter "${k}" needs a lower-case name, a "why" and string defaults`);
    }
  }
  for (const n of (o.needs ?? []) as unknown[]) {
    const nv = n as { path?: unknown; what?: unknown } | null;
    if (typeof nv !== 'object' || nv === null || typeof nv.path !== 'string' || typeof nv.what !== 'string') throw new ProfileError(file, '"needs" entries are { path, what }');
  }
  return p as Profile;
}

export function loadProfiles(dir: string = profilesDir()): Map<string, Profile> {
  const out = new Map<string, Profile>();
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    throw new ProfileError(dir, `cannot list the profiles directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  for (const f of names) {
    const file = path.join(dir, f);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ProfileError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const p = parseProfile(file, text);
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
  /** Charsets to keep gconv modules for (undefined: all). Same as the gconv profile's `charsets`. */
  gconvCharsets?: string[];
  /** Parameters from `--with` (profile → key → values; '' is the positional key). */
  params?: ProfileRequest['params'];
}

export interface ProfileSelection {
  profiles: Profile[];
  files: { path: string; reason: string }[];
  elf: { path: string; reason: string }[];
  /** In-root paths whose host owner the copy keeps. */
  keepOwner: string[];
  /** In-root directories made root's and not writable by group or others (Profile.rootOwnedDirs). */
  rootOwnedDirs: string[];
  /** Host paths read besides the root's own (dpkg's database), for the plan cache. */
  consulted: string[];
  consultedListings: string[];
  warnings: string[];
}

/** Whether `auto` picks `p` for this closure and these programs. */
export function autoPicks(p: Profile, ctx: Pick<ProfileContext, 'root' | 'inputs' | 'sonames'>): boolean {
  if (!p.auto || p.auto.never) return false;
  const bySoname = p.auto.sonames?.some((s) => ctx.sonames.has(s)) ?? false;
  const byInput = p.auto.inputs?.some((re) => ctx.inputs.some((i) => new RegExp(re).test(i))) ?? false;
  if (!bySoname && !byInput) return false;
  return p.auto.ifExists === undefined || p.auto.ifExists.some((f) => ctx.root.lstat(f) !== undefined);
}

/** Which profiles a request names; `auto` picks by what the closure contains, `without` are left out. */
export function selectProfiles(all: Map<string, Profile>, request: readonly string[] | ProfileRequest, ctx: ProfileContext): Profile[] {
  const req: ProfileRequest = Array.isArray(request) ? { names: [...request], without: [], params: {} } : (request as ProfileRequest);
  for (const n of [...req.without, ...Object.keys(req.params)]) {
    if (!all.has(n)) throw new ProfileError(n, `no such profile (known: ${[...all.keys()].join(', ')}, auto, none)`);
  }
  const without = new Set(req.without);
  const chosen = new Map<string, Profile>();
  const add = (name: string): void => {
    const p = all.get(name);
    if (!p) throw new ProfileError(name, `no such profile (known: ${[...all.keys()].join(', ')}, auto, none)`);
    if (chosen.has(name) || without.has(name)) return;
    chosen.set(name, p);
    for (const r of p.requires ?? []) add(r);
  };
  for (const n of req.names) {
    if (n === 'auto') {
      for (const p of all.values()) if (autoPicks(p, ctx)) add(p.name);
    } else add(n);
  }
  // The generic profile: a program no chosen profile is for (tclsh, ruby) gets its package's files.
  if (req.names.includes('auto') && unclaimedPrograms([...chosen.values()], ctx.inputs, ctx.root).length > 0) {
    for (const p of all.values()) if (p.auto?.fallback && !p.auto.never) add(p.name);
  }
  return [...chosen.values()];
}

/** The programs among `inputs` that none of `profiles` claims through its `auto.inputs`. */
export function unclaimedPrograms(profiles: readonly Profile[], inputs: readonly string[], root?: SysRoot): string[] {
  const claims = profiles.flatMap((p) => (p.auto?.fallback ? [] : (p.auto?.inputs ?? []).map((r) => new RegExp(r))));
  const real = (i: string): string | undefined => {
    try {
      return root?.realpath(i);
    } catch {
      return undefined;
    }
  };
  // A link and its target are one program: /usr/bin/python3 is claimed through python3.11, and
  // redis-check-rdb through the redis-server link to it.
  const named = (i: string): boolean => [i, real(i)].some((x) => x !== undefined && claims.some((r) => r.test(x)));
  const claimedFiles = new Set(inputs.filter(named).map((i) => real(i) ?? i));
  return [...new Set(inputs.filter((i) => isProgramPath(i) && !named(i) && !claimedFiles.has(real(i) ?? i)))];
}

/** Values of each variable and parameter of `p` (see ProfileVar, ProfileParam). */
export function profileEnv(p: Profile, ctx: Pick<ProfileContext, 'inputs' | 'sonames' | 'triplet' | 'params' | 'gconvCharsets'> & { root?: SysRoot }): Map<string, string[]> {
  const env = new Map<string, string[]>([['TRIPLET', [ctx.triplet]]]);
  for (const [name, spec] of Object.entries(p.vars ?? {})) {
    const values = new Set<string>();
    const scan = (re: string | undefined, xs: Iterable<string>): void => {
      if (!re) return;
      const r = new RegExp(re);
      for (const x of xs) {
        const m = r.exec(x);
        if (m?.[1]) values.add(m[1]);
      }
    };
    scan(spec.fromInput, ctx.inputs);
    scan(spec.fromSoname, ctx.sonames);
    if (spec.fromContents && ctx.root) {
      const of = new RegExp(spec.fromContents.of);
      const texts: string[] = [];
      for (const i of ctx.inputs.filter((x) => of.test(x))) {
        try {
          texts.push(ctx.root.readBytes(i, MAX_PROGRAM_BYTES)?.toString('latin1') ?? '');
        } catch {
          // an unreadable input is reported by the plan itself
        }
      }
      const g = new RegExp(spec.fromContents.match, 'g');
      for (const t of texts) for (const m of t.matchAll(g)) if (m[1]) values.add(m[1]);
    }
    env.set(name, values.size > 0 ? [...values].sort() : spec.default === '' ? [] : [spec.default]);
  }
  const given = { ...(ctx.params?.[p.name] ?? {}) };
  if (p.name === 'gconv' && ctx.gconvCharsets) given.charsets = [...(given.charsets ?? []), ...ctx.gconvCharsets];
  const declared = Object.entries(p.params ?? {});
  if (given[''] !== undefined) {
    const pos = declared.find(([, d]) => d.positional)?.[0];
    if (pos === undefined) throw new ProfileError(`--with ${p.name}`, `takes no positional value (give KEY=VALUE; its keys: ${declared.map(([k]) => k).join(', ') || 'none'})`);
    given[pos] = [...(given[pos] ?? []), ...given['']];
    delete given[''];
  }
  for (const k of Object.keys(given)) {
    if (!p.params?.[k]) throw new ProfileError(`--with ${p.name}:${k}`, `profile ${p.name} has no parameter '${k}' (its parameters: ${declared.map(([n]) => n).join(', ') || 'none'})`);
  }
  for (const [k, d] of declared) {
    const values = given[k] ?? d.default ?? [];
    const bad = d.choices ? values.filter((v) => !d.choices?.[v]) : [];
    if (bad.length) throw new ProfileError(`--with ${p.name}:${k}=${bad.join('+')}`, `${k} takes ${Object.keys(d.choices ?? {}).join(', ')}`);
    env.set(k, values);
  }
  return env;
}

/** A pattern with `${NAME}` references, once per combination of their values (none when a list is empty). */
export function expandPattern(pattern: string, env: ReadonlyMap<string, readonly string[]>): { pattern: string; used: [string, string][] }[] {
  const m = /\$\{([A-Za-z_][A-Za-z0-9_-]*)\}/.exec(pattern);
  if (!m) return [{ pattern, used: [] }];
  const name = m[1] ?? '';
  const values = env.get(name);
  if (values === undefined) return [{ pattern, used: [] }];
  const out: { pattern: string; used: [string, string][] }[] = [];
  for (const v of values) {
    // Never a climb or another reference. (Parameters are plain names already, profile-spec.ts; a
    // variable may be a whole path, SHELL_INPUT, taken from the inputs by the profile's own pattern.)
    if (v.includes('${') || v.split('/').some((c) => c === '..' || c === '.')) continue;
    for (const e of expandPattern(pattern.split(m[0]).join(v), env)) out.push({ pattern: e.pattern, used: [[name, v], ...e.used] });
  }
  return out;
}

/** Whether a regular file (links followed inside the root) starts with the ELF magic. */
function isElfInRoot(root: SysRoot, p: string): boolean {
  let real: string | undefined;
  try {
    real = root.realpath(p);
  } catch {
    // A link loop or a link out of a sysroot: not a module to bring (the copy reports the link itself).
    return false;
  }
  if (real === undefined) return false;
  root.noteRead(real);
  return hasElfMagic(root.hostPath(real));
}

/** Expands the chosen profiles into files and ELF modules to bring, each with the profile's reason. */
export function expandProfiles(profiles: readonly Profile[], ctx: ProfileContext): ProfileSelection {
  const sel: ProfileSelection = { profiles: [...profiles], files: [], elf: [], keepOwner: [], rootOwnedDirs: [], consulted: [], consultedListings: [], warnings: [] };
  const seen = new Set<string>();
  for (const p of profiles) {
    const env = profileEnv(p, ctx);
    const paramNames = new Set(Object.keys(p.params ?? {}));
    const expandAll = (xs: readonly string[] | undefined): { pattern: string; used: [string, string][] }[] => (xs ?? []).flatMap((x) => expandPattern(x, env));
    const excludes = expandAll(p.exclude).map((e) => e.pattern);
    const excluded = (x: string): boolean => excludes.some((e) => matchesGlobPath(e, x));
    const reason = `profile ${p.name}`;
    // A parameter value no pattern found anything for is the user's typo or a file this machine lacks.
    const found = new Set<string>();
    const asked = new Set<string>();
    const push = (list: { path: string; reason: string }[], x: string): void => {
      if (excluded(x) || seen.has(x)) return;
      seen.add(x);
      try {
        ctx.root.realpath(x);
      } catch (err) {
        // A profile brings what is there: a link loop or a link out of a sysroot is skipped, not fatal.
        sel.warnings.push(`profile ${p.name}: ${x}: ${err instanceof Error ? err.message : String(err)}, not copied`);
        return;
      }
      list.push({ path: x, reason });
    };
    const globAll = (xs: readonly string[] | undefined): string[] => {
      const hits: string[] = [];
      for (const e of expandAll(xs)) {
        const h = globInRoot(ctx.root, e.pattern, PROFILE_GLOB);
        for (const [k, v] of e.used) {
          if (!paramNames.has(k)) continue;
          asked.add(`${k}=${v}`);
          if (h.length) found.add(`${k}=${v}`);
        }
        hits.push(...h);
      }
      return hits;
    };
    let elfHits: string[] = [];
    const plainHits: string[] = [];
    const chosen = Object.entries(p.params ?? {}).flatMap(([k, d]) => (env.get(k) ?? []).flatMap((v) => d.choices?.[v] ?? []));
    for (const h of globAll([...(p.elf ?? []), ...chosen])) (isElfInRoot(ctx.root, h) ? elfHits : plainHits).push(h);
    plainHits.push(...globAll(p.files));
    for (const rule of p.rules ?? []) {
      if (rule.kind === 'gconv-allow-list' && (env.get('charsets') ?? []).length > 0) elfHits = gconvAllowList(ctx, elfHits, env.get('charsets') ?? []);
      if (rule.kind === 'nginx-load-module') elfHits.push(...nginxModules(ctx.root, rule.config ?? '/etc/nginx/nginx.conf', rule.prefix ?? '/usr/share/nginx'));
      if (rule.kind === 'openssl-modules') elfHits.push(...opensslModules(ctx.root, ctx.triplet));
      if (rule.kind === 'locale-names' || rule.kind === 'python-packages') {
        const r = rule.kind === 'locale-names' ? localeFiles(ctx.root, env.get('names') ?? []) : pythonPackageFiles(ctx.root, env.get('PY') ?? [], env.get('packages') ?? []);
        for (const h of r.files) (isElfInRoot(ctx.root, h) ? elfHits : plainHits).push(h);
        sel.warnings.push(...r.warnings.map((w) => `profile ${p.name}: ${w}`));
      }
      if (rule.kind === 'dpkg-runtime') {
        const r = packageRuntimeFiles(ctx.root, unclaimedPrograms(profiles, ctx.inputs, ctx.root), env.get('of') ?? [], excluded);
        for (const h of r.files) (isElfInRoot(ctx.root, h) ? elfHits : plainHits).push(h);
        sel.warnings.push(...r.warnings.map((w) => `profile ${p.name}: ${w}`));
        sel.consulted.push(...r.consulted);
        sel.consultedListings.push(...r.consultedListings);
      }
    }
    for (const h of elfHits) push(sel.elf, h);
    for (const h of plainHits) push(sel.files, h);
    for (const a of asked) if (!found.has(a)) sel.warnings.push(`profile ${p.name}: ${a.replace('=', " '")}' matches no file on this machine`);
    if (elfHits.length + plainHits.length === 0 && (p.files?.length || p.elf?.length)) sel.warnings.push(`profile ${p.name}: none of its files exist on this machine`);
    for (const e of expandAll(p.keepOwner)) for (const h of globInRoot(ctx.root, e.pattern, PROFILE_GLOB)) sel.keepOwner.push(h);
    for (const e of expandAll(p.rootOwnedDirs)) sel.rootOwnedDirs.push(...globInRoot(ctx.root, e.pattern, PROFILE_GLOB));
  }
  return sel;
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
        for (const f of globInRoot(root, pat, PROFILE_GLOB)) visit(f, depth + 1);
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
    const sec = /^\[\s*(?<name>[^\]\s]+)\s*\]$/.exec(line)?.groups;
    if (sec?.name !== undefined) {
      cur = new Map();
      sections.set(sec.name, cur);
      continue;
    }
    const kv = /^(?<key>[^=]+?)\s*=\s*(?<value>.*)$/.exec(line)?.groups;
    if (kv?.key !== undefined && kv.value !== undefined) cur.set(kv.key, kv.value);
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
  const texts = [dir + '/gconv-modules', ...globInRoot(ctx.root, dir + '/gconv-modules.d/*.conf', PROFILE_GLOB)].map((f) => {
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
