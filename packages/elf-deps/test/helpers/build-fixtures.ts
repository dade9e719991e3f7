/**
 * Fixtures for the resolver's rules: tiny shared objects and programs built with gcc, their dynamic tags
 * set at link time or with patchelf, and what the real loader maps for them (LD_TRACE_LOADED_OBJECTS=1
 * runs only the fixture's own loader: rtld prints the link map and exits before main).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClosureGraph } from '../../src/index.js';
import { compileC, patchelf } from './fixtures.js';

export interface ObjectSpec {
  /** DT_NEEDED names in order, added with patchelf: nothing has to resolve at link time. */
  needed?: string[];
  /** DT_RPATH (linked with --disable-new-dtags). */
  rpath?: string;
  /**
   * DT_RUNPATH (--enable-new-dtags). With `rpath` as well the object gets both tags: it is linked with
   * DT_RPATH and a DT_SONAME holding this string, and that DT_SONAME entry is retagged DT_RUNPATH.
   */
  runpath?: string;
  /** DT_SONAME of a library (default: its file name; none when it has both RPATH and RUNPATH). */
  soname?: string;
  /** i386 instead of x86-64 (gcc -m32). */
  m32?: boolean;
  /** More gcc flags (-static, -Wl,-z,nodeflib, …). */
  flags?: string[];
}

const DT_SONAME = 14;
const DT_RUNPATH = 29;
const PT_DYNAMIC = 2;

function build(dir: string, file: string, source: string, spec: ObjectSpec, shared: boolean): string {
  fs.mkdirSync(dir, { recursive: true });
  const flags = [...(spec.m32 ? ['-m32'] : []), ...(spec.flags ?? [])];
  if (shared) flags.push('-shared', '-fPIC');
  const both = spec.rpath !== undefined && spec.runpath !== undefined;
  if (spec.rpath !== undefined) flags.push(`-Wl,--disable-new-dtags,-rpath,${spec.rpath}`);
  else if (spec.runpath !== undefined) flags.push(`-Wl,--enable-new-dtags,-rpath,${spec.runpath}`);
  const soname = both ? spec.runpath : shared ? (spec.soname ?? file) : spec.soname;
  if (soname !== undefined) flags.push(`-Wl,-soname,${soname}`);
  const out = compileC(dir, file, source, flags);
  // One name a call, last first: patchelf puts a new name in front, and sorts the names of one call.
  for (const name of [...(spec.needed ?? [])].reverse()) patchelf(out, ['--add-needed', name]);
  if (both) retagSonameAsRunpath(out);
  return out;
}

/** A shared library `dir/file` (one function, no code dependencies). */
export function buildLib(dir: string, file: string, spec: ObjectSpec = {}): string {
  return build(dir, file, `int ${file.replace(/\W/g, '_')}_fn(void) { return 1; }\n`, spec, true);
}

/** A program `dir/file` that returns 0. */
export function buildExe(dir: string, file: string, spec: ObjectSpec = {}): string {
  return build(dir, file, 'int main(void) { return 0; }\n', spec, false);
}

/**
 * Turns the DT_SONAME entry of PT_DYNAMIC into DT_RUNPATH: the linker never writes DT_RPATH and
 * DT_RUNPATH together, ld.so has to cope with objects that have both.
 */
export function retagSonameAsRunpath(file: string): void {
  const b = fs.readFileSync(file);
  const is64 = b[4] === 2;
  const word = (at: number): number => (is64 ? Number(b.readBigUInt64LE(at)) : b.readUInt32LE(at));
  const phoff = word(is64 ? 32 : 28);
  const phentsize = b.readUInt16LE(is64 ? 54 : 42);
  const phnum = b.readUInt16LE(is64 ? 56 : 44);
  const dynSize = is64 ? 16 : 8;
  let retagged = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (b.readUInt32LE(ph) !== PT_DYNAMIC) continue;
    const off = word(ph + (is64 ? 8 : 4));
    for (let at = off; word(at) !== 0; at += dynSize) {
      if (word(at) !== DT_SONAME) continue;
      if (is64) b.writeBigUInt64LE(BigInt(DT_RUNPATH), at);
      else b.writeUInt32LE(DT_RUNPATH, at);
      retagged++;
    }
  }
  if (retagged !== 1) throw new Error(`${file}: expected one DT_SONAME to retag, found ${retagged}`);
  fs.writeFileSync(file, b);
}

/** A copy of `file` at `to` with another e_machine (an object the loader must skip). */
export function copyWithMachine(file: string, to: string, machine: number): string {
  const b = fs.readFileSync(file);
  b.writeUInt16LE(machine, 18);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.writeFileSync(to, b);
  return to;
}

export interface LoadedSet {
  /** Real paths of the objects mapped, in load order, without the interpreter and the vDSO. */
  paths: string[];
  /** Names not found, sorted. */
  missing: string[];
  /** Real path of the interpreter when it was listed. */
  interpreter?: string;
}

export interface LoaderRun extends LoadedSet {
  status: number | null;
  stderr: string;
}

export interface TraceOptions {
  /** The whole environment of the run (nothing is inherited). */
  env?: Record<string, string>;
  cwd?: string;
  /** Arguments: with `file` = chroot, the root and the program. */
  args?: string[];
  /** How a printed path becomes a real path (default: the host's, relative paths against `cwd`). */
  realpath?: (p: string) => string;
}

/**
 * What the real loader maps for `file`. Paths it prints relative (found under an empty LD_LIBRARY_PATH
 * element, or a relative name) are taken against `cwd`.
 */
export function loaderTrace(file: string, interpreter: string, options: TraceOptions = {}): LoaderRun {
  const cwd = options.cwd ?? process.cwd();
  const realpath = options.realpath ?? ((p: string) => fs.realpathSync(path.resolve(cwd, p)));
  const r = spawnSync(file, options.args ?? [], { env: { ...options.env, LD_TRACE_LOADED_OBJECTS: '1' }, cwd, encoding: 'utf8' });
  const interp = realpath(interpreter);
  const out: LoaderRun = { status: r.status, stderr: r.stderr, paths: [], missing: [] };
  for (const line of r.stdout.split('\n')) {
    const notFound = /^\t(\S+) => not found$/.exec(line)?.[1];
    if (notFound !== undefined) {
      out.missing.push(notFound);
      continue;
    }
    const printed = (/^\t\S+ => (\S+) \(0x/.exec(line) ?? /^\t(\S+) \(0x/.exec(line))?.[1];
    if (printed === undefined || /^linux-(vdso|gate)\.so/.test(printed)) continue;
    const real = realpath(printed);
    if (real === interp) out.interpreter = real;
    else out.paths.push(real);
  }
  out.missing.sort();
  return out;
}

/**
 * A static program that chroots into its first argument and runs the second with only
 * LD_TRACE_LOADED_OBJECTS=1 set: chroot(8) itself is dynamic, and its own loader would take the variable.
 */
export function buildChrootTracer(dir: string): string {
  const source = `#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3 || chroot(argv[1]) != 0 || chdir("/") != 0) { perror("chroot"); return 125; }
  char *env[] = { "LD_TRACE_LOADED_OBJECTS=1", NULL };
  execve(argv[2], &argv[2], env);
  perror("execve");
  return 126;
}
`;
  return compileC(dir, 'chroot-tracer', source, ['-static', '-O']);
}

/** The same view of the resolver's answer for its first input. */
export function resolvedSet(graph: ClosureGraph): LoadedSet {
  const rc = graph.roots[0];
  if (!rc) throw new Error(`no closure: ${graph.inputErrors.map((e) => e.message).join('; ')}`);
  const interp = rc.interpreter !== undefined ? graph.nodes.get(rc.interpreter)?.realPath : undefined;
  const out: LoadedSet = { paths: [], missing: rc.missing.map((m) => m.name).sort() };
  for (const p of rc.objects) {
    if (p === rc.path) continue;
    const real = graph.nodes.get(p)?.realPath ?? p;
    if (real === interp) out.interpreter = real;
    else out.paths.push(real);
  }
  return out;
}
