/**
 * musl fixtures: tiny objects built with musl-gcc (DT_NEEDED added with patchelf, so nothing has to
 * resolve at link time) and what musl's own loader maps for them in list mode
 * (`ld-musl-x86_64.so.1 --list PROG`: load_library prints each object as it maps it, load errors go to
 * stderr and the exit status is 127).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClosureGraph } from '../../src/index.js';
import { patchelf } from './fixtures.js';
import { retagSonameAsRunpath } from './build-fixtures.js';

export const MUSL_LOADER = '/lib/ld-musl-x86_64.so.1';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why the musl tests cannot run here, or undefined when they can. */
export const muslMissing: string | undefined = !fs.existsSync(MUSL_LOADER)
  ? `${MUSL_LOADER} is not installed (apt-get install musl)`
  : !has('musl-gcc')
    ? 'musl-gcc is not installed (apt-get install musl-tools)'
    : !has('patchelf')
      ? 'patchelf is not installed'
      : undefined;

export interface MuslSpec {
  needed?: string[];
  rpath?: string;
  runpath?: string;
  soname?: string;
  /** What the library's `value()` returns, or what the program prints through it. */
  value?: number;
  /** The program prints value() of this library (`dir/lib`, linked against it: DT_NEEDED `lib`). */
  callsValue?: { dir: string; lib: string };
  flags?: string[];
}

function muslGcc(dir: string, out: string, source: string, flags: readonly string[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, `${out}.c`);
  fs.writeFileSync(src, source);
  const target = path.join(dir, out);
  execFileSync('musl-gcc', ['-o', target, src, ...flags], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  fs.rmSync(src);
  return target;
}

function build(dir: string, file: string, source: string, spec: MuslSpec, shared: boolean): string {
  const flags = [...(spec.flags ?? [])];
  if (shared) flags.push('-shared', '-fPIC');
  const both = spec.rpath !== undefined && spec.runpath !== undefined;
  if (spec.rpath !== undefined) flags.push(`-Wl,--disable-new-dtags,-rpath,${spec.rpath}`);
  else if (spec.runpath !== undefined) flags.push(`-Wl,--enable-new-dtags,-rpath,${spec.runpath}`);
  // Both tags: the runpath goes in as DT_SONAME and is retagged DT_RUNPATH after the link.
  const soname = both ? spec.runpath : spec.soname;
  if (soname !== undefined) flags.push(`-Wl,-soname,${soname}`);
  const out = muslGcc(dir, file, source, flags);
  // patchelf puts a new name in front: last first keeps the order given.
  for (const name of [...(spec.needed ?? [])].reverse()) patchelf(out, ['--add-needed', name]);
  if (both) retagSonameAsRunpath(out);
  return out;
}

/** A musl shared library `dir/file` defining `int value(void)`. */
export function muslLib(dir: string, file: string, spec: MuslSpec = {}): string {
  return build(dir, file, `int value(void) { return ${spec.value ?? 1}; }\n`, spec, true);
}

/**
 * A musl program `dir/file`. With `callsValue`, it prints value() of whichever file of that name the
 * loader maps at run time.
 */
export function muslExe(dir: string, file: string, spec: MuslSpec = {}): string {
  const c = spec.callsValue;
  const source = c ? '#include <stdio.h>\nint value(void);\nint main(void) { printf("%d\\n", value()); return 0; }\n' : 'int main(void) { return 0; }\n';
  const flags = c ? [`-L${c.dir}`, `-l:${c.lib}`, ...(spec.flags ?? [])] : spec.flags;
  return build(dir, file, source, { ...spec, ...(flags ? { flags } : {}) }, false);
}

export interface MuslRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Real paths of the objects mapped, in load order, the loader left out. */
  paths: string[];
  /** Names that failed to load, sorted. */
  missing: string[];
  /** name => printed path, as list mode prints them. */
  lines: [string, string][];
}

export interface ListOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run inside this root with chroot(8): paths printed are the root's. */
  root?: string;
  /** The loader to run (default MUSL_LOADER; in a root: its path there). */
  loader?: string;
}

/** What musl's loader maps for `prog` in list mode. */
export function muslList(prog: string, options: ListOptions = {}): MuslRun {
  const loader = options.loader ?? MUSL_LOADER;
  const cwd = options.cwd ?? process.cwd();
  const [cmd, args] = options.root !== undefined ? ['/usr/sbin/chroot', [options.root, loader, '--list', prog]] : [loader, ['--list', prog]];
  const r = spawnSync(cmd, args, { env: options.env ?? {}, cwd, encoding: 'utf8', timeout: 20_000 });
  return parseList(r.status, r.stdout, r.stderr, cwd, options.root);
}

/** Runs `prog` itself (for what list mode cannot show: the main program's /proc/self/exe origin, secure mode). */
export function muslRun(prog: string, options: { env?: Record<string, string>; cwd?: string; argv?: string[] } = {}): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...args] = options.argv ?? [prog];
  const r = spawnSync(cmd ?? prog, args, { env: options.env ?? {}, cwd: options.cwd ?? process.cwd(), encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function parseList(status: number | null, stdout: string, stderr: string, cwd: string, root: string | undefined): MuslRun {
  const host = (p: string): string => (root !== undefined ? path.join(root, p.startsWith('/') ? p : path.join('/', p)) : path.resolve(cwd, p));
  const real = (p: string): string => {
    let r: string;
    try {
      r = fs.realpathSync(host(p));
    } catch {
      r = host(p);
    }
    return root !== undefined ? '/' + path.relative(fs.realpathSync(root), r) : r;
  };
  const out: MuslRun = { status, stdout, stderr, paths: [], missing: [], lines: [] };
  const lines = stdout.split('\n');
  const loader = /^\t(\S+) \(0x/.exec(lines[0] ?? '')?.[1];
  const loaderReal = loader !== undefined ? real(loader) : undefined;
  for (const line of lines.slice(1)) {
    const m = /^\t(\S+) => (\S+) \(0x/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    out.lines.push([m[1], m[2]]);
    const r = real(m[2]);
    if (r !== loaderReal) out.paths.push(r);
  }
  for (const m of stderr.matchAll(/Error loading shared library (\S+): .*\(needed by /g)) if (m[1]) out.missing.push(m[1]);
  out.missing = [...new Set(out.missing)].sort();
  return out;
}

/** The resolver's answer for its first input in the same shape (real paths, loader left out). */
export function ourSet(graph: ClosureGraph): { paths: string[]; missing: string[] } {
  const rc = graph.roots[0];
  if (!rc) throw new Error(`no closure: ${graph.inputErrors.map((e) => e.message).join('; ')}`);
  const paths: string[] = [];
  for (const p of rc.objects) {
    if (p === rc.path || p === rc.interpreter) continue;
    paths.push(graph.nodes.get(p)?.realPath ?? p);
  }
  return { paths, missing: [...new Set(rc.missing.map((m) => m.name))].sort() };
}
