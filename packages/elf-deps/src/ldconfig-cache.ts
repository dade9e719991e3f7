/**
 * The cache ldconfig would build from ld.so.conf's directories (elf/ldconfig.c search_dir; readlib.c
 * process_file; readelflib.c process_elf_file and its sysdeps variants).
 *
 * ld.so never reads ld.so.conf: a root without /etc/ld.so.cache goes from RUNPATH straight to the
 * system directories. buildCacheFromLdConf predicts the cache `ldconfig` would write there, so a
 * resolver can say what the loader will find once ldconfig has run in the root.
 */
import * as path from 'node:path';
import { ET_DYN } from './elf/constants.js';
import { archOfLoader, type ArchRow } from './arch/table.js';
import type { LdconfigPort } from './arch/ldconfig-port.js';
import { ElfFile } from './elf/file.js';
import { readX86IsaLevel } from './elf/gnu-property.js';
import type { ByteOrder, ElfClass } from './elf/fields.js';
import { ElfDepsError } from './errors.js';
import { buildLdCache, dlCacheLibcmp, FLAG_ELF, FLAG_ELF_LIBC5, FLAG_ELF_LIBC6, type LdCache, type LdCacheInput } from './ldcache/index.js';
import { byteOrder, inodeKey, type LdConf, type LdConfDirectory } from './ldconf.js';
import type { SysRoot } from './sysroot.js';

export interface LdConfCacheTarget {
  elfClass: ElfClass;
  machine: number;
  /** The loader's path ("/lib/" + its name is what ldconfig recognises as PT_INTERP). */
  interpreter?: string;
  byteOrder?: ByteOrder;
  /** The architecture row (LoaderTarget has it); found from class, machine and interpreter when absent. */
  arch?: ArchRow;
  /** The root's glibc rules (LoaderTarget has them); default 2.36's. */
  glibc?: { ldconfigLegacyHwcaps: boolean; ldconfigLibTypes: boolean };
}

export interface LdConfCache {
  /** The cache ldconfig would write, built in memory: look names up with lookupLdCache. */
  cache: LdCache;
  /** The directories scanned, in ldconfig's order; legacy hwcap subdirectories found on the way come last. */
  directories: LdConfDirectory[];
  /** SONAME links ldconfig would create, because the path it records does not exist yet. */
  missingLinks: { path: string; target: string }[];
  /** Files with library-like names that ldconfig would leave out, and why. */
  skipped: { path: string; reason: string }[];
}

/** readlib.c interpreters[] and known_libs[] with the port's SYSDEP_KNOWN_* additions (ldconfig.h). */
interface KnownNames {
  interpreters: ReadonlyMap<string, number>;
  libs: ReadonlyMap<string, number>;
}

function knownNames(target: LdConfCacheTarget, port: LdconfigPort): KnownNames {
  const interpreters = new Map<string, number>();
  if (target.interpreter) interpreters.set(`/lib/${path.posix.basename(target.interpreter)}`, FLAG_ELF_LIBC6);
  for (const [p, flag] of port.interpreters) interpreters.set(p, flag);
  return { interpreters, libs: port.libs };
}

/** ldconfig.c TLS_SUBPATH and TLS_HWCAP_BIT. */
const TLS_SUBPATH = 'tls';
const TLS_HWCAP_BIT = 63n;

/** ldconfig.c is_hwcap_platform: a legacy hwcap subdirectory name (the port's names, and "tls"). */
function hwcapBit(name: string, port: LdconfigPort): bigint | undefined {
  if (name === TLS_SUBPATH) return TLS_HWCAP_BIT;
  return port.hwcapNames.get(name);
}

/** ldconfig.c path_hwcap: the bits of the trailing hwcap components of a directory path. */
function pathHwcap(dir: string, bitOf: (name: string) => bigint | undefined): bigint {
  let hwcap = 0n;
  const parts = dir.split('/');
  while (parts.length > 1) {
    const bit = bitOf(parts[parts.length - 1] ?? '');
    if (bit === undefined) break;
    hwcap += 1n << bit;
    parts.pop();
  }
  return hwcap;
}

/** dl-is_dso.h _dl_is_dso: lib*.so*, ld-*.so*, ld.so.*, ld64.so.* */
function looksLikeDso(name: string): boolean {
  return ((name.startsWith('lib') || name.startsWith('ld-')) && name.includes('.so')) || name.startsWith('ld.so.') || name.startsWith('ld64.so.');
}

/** search_dir: temporary files of prelink are never libraries. */
function isPrelinkTemp(name: string): boolean {
  return name.endsWith('.#prelink#') || /\.#prelink#\..{6}$/s.test(name);
}

type Classified = { flag: number; soname?: string; isaLevel: number } | { skip: string };

/**
 * readlib.c process_file and the target's readelflib.c process_elf_file: whether ldconfig takes the
 * file, its SONAME, its FLAG_* value and (x86) its ISA level.
 */
function classifyLibrary(root: SysRoot, file: string, target: LdConfCacheTarget, port: LdconfigPort, known: KnownNames): Classified {
  let elf: ElfFile;
  try {
    elf = ElfFile.using(() => root.open(file));
  } catch (err) {
    if (err instanceof ElfDepsError) return { skip: err.reason };
    throw err;
  }
  try {
    const info = elf.info;
    const tags = elf.dynamicTags();
    if (info.type !== ET_DYN) return { skip: 'not a shared object (e_type is not ET_DYN)' };
    const refused = port.refuse(info, target.elfClass);
    if (refused !== undefined) return { skip: refused };
    if (!info.dynamic || tags === undefined) return { skip: 'no dynamic section' };
    if (tags.strtab === undefined) return { skip: 'no dynamic string table' };

    // glibc 2.37's readelflib.c (8ee878592c4a) takes every library for libc6; before, the interpreter
    // and the DT_NEEDED names decided.
    let flag = target.glibc?.ldconfigLibTypes === false ? FLAG_ELF_LIBC6 : FLAG_ELF;
    if (flag === FLAG_ELF && info.interpreter !== undefined) flag = known.interpreters.get(info.interpreter) ?? flag;
    for (const needed of info.dynamic.needed) {
      if (flag !== FLAG_ELF) break;
      flag = known.libs.get(needed) ?? flag;
    }
    const verdict = port.classify(info, flag);
    if ('skip' in verdict) return verdict;
    flag = verdict.flag;
    const out: { flag: number; soname?: string; isaLevel: number } = { flag, isaLevel: port.readsIsaLevel ? elf.withSource((src) => readX86IsaLevel(src, elf.fields, elf.programHeaders)) : 0 };
    if (info.dynamic.soname !== undefined) out.soname = info.dynamic.soname;
    return out;
  } finally {
    elf.close();
  }
}

interface DirLib {
  name: string;
  soname: string;
  flag: number;
  isLink: boolean;
  isaLevel: number;
}

/**
 * The cache `ldconfig` (without -X it would also make the SONAME links) would build from `conf`'s
 * directories for this target: ldconfig.c search_dir for each directory in order, legacy hwcap
 * subdirectories appended as found, then cache.c's sort. Per directory one entry per SONAME: a real
 * file beats a symlink, else the name that sorts last under _dl_cache_libcmp; the recorded path is
 * DIR/SONAME (DIR/FILE in glibc-hwcaps subdirectories), and a link named after its SONAME, or a
 * development link like libfoo.so, is recorded under its own name. As in the real cache, the first
 * directory wins for equal names.
 *
 * Approximations: readdir order (which ldconfig follows) only breaks ties between files whose names
 * _dl_cache_libcmp calls equal and is replaced by name order; outside x86, legacy hwcap subdirectories
 * other than tls are not recognised, and known interpreter names are those of ldconfig.h plus
 * "/lib/" + the target's loader name.
 */
export function buildCacheFromLdConf(root: SysRoot, conf: LdConf | readonly LdConfDirectory[], target: LdConfCacheTarget): LdConfCache {
  const arch = archOfLoader(target);
  // glibc 2.37's ldconfig (b78ff5a25dc8) knows no legacy hwcap subdirectory: "tls", "haswell", … are
  // plain names then, neither scanned nor giving hwcap bits.
  const port = arch.port;
  const legacyNames = target.glibc?.ldconfigLegacyHwcaps !== false;
  const bitOf = (name: string): bigint | undefined => (legacyNames ? hwcapBit(name, port) : undefined);
  const directories = [...('directories' in conf ? conf.directories : conf)];
  const seen = new Set<string>();
  for (const d of directories) {
    const st = root.stat(d.path);
    if (st) seen.add(inodeKey(st));
  }
  const inputs: LdCacheInput[] = [];
  const missingLinks: { path: string; target: string }[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const unsignedChar = arch.unsignedChar;
  const known = knownNames(target, port);

  for (let qi = 0; qi < directories.length; qi++) {
    const entry = directories[qi];
    if (!entry) continue;
    const names = root.listDir(entry.path);
    if (!names) continue;
    const hwcap = entry.hwcaps === undefined ? pathHwcap(entry.path, bitOf) : 0n;
    const dlibs = new Map<string, DirLib>();
    for (const name of [...names].sort(byteOrder)) {
      const file = `${entry.path}/${name}`;
      const lst = root.lstat(file);
      if (!lst || !(lst.isFile() || lst.isSymbolicLink() || lst.isDirectory())) continue;
      const hwcapDirName = entry.hwcaps === undefined && bitOf(name) !== undefined;
      // Inside a glibc-hwcaps subdirectory even a non-library name gets through here when it is not a
      // regular file: a symlink is then read as a library, a directory dropped below, as in search_dir.
      if (!looksLikeDso(name) && (lst.isFile() || (entry.hwcaps === undefined && !hwcapDirName))) continue;
      if (isPrelinkTemp(name)) continue;
      let isLink = lst.isSymbolicLink();
      const st = isLink ? root.stat(file) : lst;
      if (!st) continue;
      if (hwcapDirName && st.isDirectory()) {
        const key = inodeKey(st);
        if (!seen.has(key)) {
          seen.add(key);
          const sub: LdConfDirectory = { path: file, from: entry.from, line: entry.line };
          if (entry.libType !== undefined) sub.libType = entry.libType;
          directories.push(sub);
        }
        continue;
      }
      if (!lst.isFile() && !isLink) continue;
      const lib = classifyLibrary(root, file, target, port, known);
      if ('skip' in lib) {
        skipped.push({ path: file, reason: lib.skip });
        continue;
      }
      let soname = lib.soname ?? name;
      // A link keeps its own name only when it is the SONAME link or a development link (libfoo.so for
      // libfoo.so.1); any other link counts as one more copy of its target.
      if (isLink && name !== soname && !(name.endsWith('.so') && soname.startsWith(name))) isLink = false;
      if (isLink) soname = name;
      let flag = lib.flag;
      if (flag === FLAG_ELF && (entry.libType === FLAG_ELF_LIBC5 || entry.libType === FLAG_ELF_LIBC6)) flag = entry.libType;
      const prev = dlibs.get(soname);
      if (!prev) {
        dlibs.set(soname, { name, soname, flag, isLink, isaLevel: lib.isaLevel });
        continue;
      }
      if ((!isLink && prev.isLink) || (isLink === prev.isLink && dlCacheLibcmp(prev.name, name, unsignedChar) < 0)) {
        if (prev.flag === FLAG_ELF && (flag === FLAG_ELF_LIBC5 || flag === FLAG_ELF_LIBC6)) prev.flag = flag;
        else if ((prev.flag === FLAG_ELF_LIBC5 || prev.flag === FLAG_ELF_LIBC6) && flag === FLAG_ELF) prev.flag = flag;
        prev.name = name;
        prev.isLink = isLink;
        prev.isaLevel = lib.isaLevel;
      }
    }
    // ldconfig prepends each library to its list, so it adds them to the cache in reverse.
    for (const dlib of [...dlibs.values()].reverse()) {
      const filename = entry.hwcaps === undefined ? dlib.soname : dlib.name;
      const input: LdCacheInput = { name: dlib.soname, path: `${entry.path}/${filename}`, flags: dlib.flag, isaLevel: dlib.isaLevel, hwcap };
      if (entry.hwcaps !== undefined) input.hwcaps = entry.hwcaps;
      inputs.push(input);
      if (entry.hwcaps === undefined && !dlib.isLink && root.lstat(input.path) === undefined) {
        missingLinks.push({ path: input.path, target: dlib.name });
      }
    }
  }
  const where = 'directories' in conf ? `ld.so.conf scan of ${conf.path}` : 'ld.so.conf scan';
  const cache = buildLdCache(inputs, { byteOrder: target.byteOrder ?? 'little', unsignedChar, path: where, generator: null });
  return { cache, directories, missingLinks, skipped };
}
