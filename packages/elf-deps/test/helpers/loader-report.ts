/**
 * What a real glibc loader says about itself: `ld.so --help` (search path, glibc-hwcaps and legacy
 * subdirectories, elf/dl-usage.c), `ld.so --list-diagnostics` (dl_platform, dl_hwcap, the vendor kind,
 * the version: elf/dl-diagnostics.c) and LD_DEBUG=libs's "search path=" line (the subdirectories
 * open_path probes, in order). Tests take their expectations about a loader from here, never from the
 * code under test.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';

export interface HelpEntry {
  name: string;
  supported: boolean;
  searched: boolean;
  /** Legacy section: the line is the AT_PLATFORM one. */
  atPlatform?: boolean;
}

export interface LoaderHelp {
  /** "Shared library search path:" entries marked "(system search path)". */
  systemDirs: string[];
  /** "Subdirectories of glibc-hwcaps directories, in priority order:" (empty when none are listed). */
  hwcaps: HelpEntry[];
  /** "Legacy HWCAP subdirectories under library search path directories:" (absent from glibc ≥ 2.37). */
  legacy: HelpEntry[];
  /** The AT_PLATFORM line's name (GLRO(dl_platform)), when the legacy section has one. */
  platform?: string;
}

function entry(line: string): HelpEntry | undefined {
  const m = /^ {2}(\S+)(?: \((.*)\))?$/.exec(line);
  if (!m) return undefined;
  const labels = (m[2] ?? '').split(/[;,]\s*/).map((s) => s.trim());
  const e: HelpEntry = { name: m[1] ?? '', supported: labels.includes('supported'), searched: labels.includes('searched') };
  if (labels.includes('AT_PLATFORM')) e.atPlatform = true;
  return e;
}

/** Parses the tail of `ld.so --help` (or a recorded copy of its sections). */
export function parseLdSoHelp(text: string): LoaderHelp {
  const out: LoaderHelp = { systemDirs: [], hwcaps: [], legacy: [] };
  let section: 'path' | 'hwcaps' | 'legacy' | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('Shared library search path:')) section = 'path';
    else if (line.startsWith('Subdirectories of glibc-hwcaps directories')) section = 'hwcaps';
    else if (line.startsWith('No subdirectories of glibc-hwcaps')) section = undefined;
    else if (line.startsWith('Legacy HWCAP subdirectories')) section = 'legacy';
    else if (line.trim() === '' || !line.startsWith('  ')) {
      if (line.trim() !== '') section = undefined;
    } else if (section === 'path') {
      const m = /^ {2}(\/\S*) \(system search path\)$/.exec(line);
      if (m?.[1]) out.systemDirs.push(m[1]);
    } else if (section) {
      const e = entry(line);
      if (!e) continue;
      if (section === 'hwcaps') out.hwcaps.push(e);
      else {
        out.legacy.push(e);
        if (e.atPlatform) out.platform = e.name;
      }
    }
  }
  return out;
}

/** `key=value` lines of --list-diagnostics, values unquoted. */
export function parseDiagnostics(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1);
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(line.slice(0, eq), value);
  }
  return out;
}

/** cpu-features.h enum cpu_features_kind, as --list-diagnostics prints x86.cpu_features.basic.kind. */
export const CPU_KINDS: ReadonlyMap<string, string> = new Map([
  ['0x0', 'unknown'],
  ['0x1', 'intel'],
  ['0x2', 'amd'],
  ['0x3', 'zhaoxin'],
  ['0x4', 'other'],
]);

export interface LoaderRunner {
  /** Runs the loader with these arguments; `prefix` is e.g. [qemu, '-cpu', model] or ['chroot', root]. */
  run(args: string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string };
}

export function loaderRunner(loader: string, prefix: string[] = [], options: SpawnSyncOptions = {}): LoaderRunner {
  return {
    run(args, env = {}) {
      const argv = [...prefix, loader, ...args];
      const r = spawnSync(argv[0] ?? loader, argv.slice(1), { encoding: 'utf8', env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', ...env }, timeout: 60_000, ...options });
      return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
    },
  };
}

/**
 * The subdirectories open_path tries in every directory of a search path, in order ('' for the
 * directory itself), from LD_DEBUG=libs: the loader runs `program` with LD_LIBRARY_PATH set to a
 * directory that does not exist, and prints that search path with every subdirectory spelled out.
 * Duplicates are dropped (the first probe of a path decides).
 */
export function probedSubdirs(runner: LoaderRunner, program: string): string[] {
  const probe = '/nonexistent-elfcopy-probe';
  const r = runner.run([program], { LD_DEBUG: 'libs', LD_LIBRARY_PATH: probe });
  const line = r.stderr.split('\n').find((l) => l.includes('search path=') && l.includes(probe));
  if (!line) throw new Error(`LD_DEBUG=libs printed no search path for ${probe}: ${r.stderr.slice(0, 400)}`);
  const list = (line.split('search path=')[1] ?? '').replace(/\s+\(LD_LIBRARY_PATH\)\s*$/, '');
  const out: string[] = [];
  for (const p of list.split(':')) {
    const sub = p === probe ? '' : p.startsWith(`${probe}/`) ? p.slice(probe.length + 1) : undefined;
    if (sub !== undefined && !out.includes(sub)) out.push(sub);
  }
  return out;
}

export function hasExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
