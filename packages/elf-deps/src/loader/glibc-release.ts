/**
 * Which glibc a root holds, read — never run — from the version banner its loader and libc carry
 * (csu/version.c and elf/dl-version: "… stable release version 2.41."), the loader first (it is a
 * tenth of libc's size and is the one whose rules count).
 */
import { ElfDepsError } from '../errors.js';
import type { SysRoot } from '../sysroot.js';

export interface GlibcRelease {
  major: number;
  minor: number;
}

export interface ReleaseReading {
  /** Undefined when no candidate file held a readable banner. */
  release?: GlibcRelease;
  /** The in-root file it was read from. */
  from?: string;
  /** The files looked at, in order. */
  tried: string[];
}

const BANNER = /release version (\d+)\.(\d+)/;
const CHUNK = 256 * 1024;
const OVERLAP = 64;
/** A loader or libc larger than this is not one; the banner is never that far in. */
const MAX_SCAN = 32 * 1024 * 1024;

function scan(root: SysRoot, file: string): GlibcRelease | undefined {
  let src;
  try {
    const st = root.stat(file);
    if (!st?.isFile()) return undefined;
    src = root.open(file);
  } catch (err) {
    if (err instanceof ElfDepsError) return undefined;
    throw err;
  }
  try {
    const end = Math.min(src.size, MAX_SCAN);
    for (let at = 0; at < end; at += CHUNK - OVERLAP) {
      const text = src.read(at, Math.min(CHUNK, end - at), 'glibc version banner').toString('latin1');
      const m = BANNER.exec(text);
      if (m) return { major: Number(m[1]), minor: Number(m[2]) };
      if (at + CHUNK >= end) break;
    }
    return undefined;
  } catch (err) {
    if (err instanceof ElfDepsError) return undefined;
    throw err;
  } finally {
    src.close();
  }
}

const memo = new WeakMap<SysRoot, Map<string, ReleaseReading>>();

/** The glibc release of a root, from the first of `candidates` (in-root paths) whose banner reads. */
export function readGlibcRelease(root: SysRoot, candidates: readonly string[]): ReleaseReading {
  const key = candidates.join('\0');
  let byKey = memo.get(root);
  if (!byKey) {
    byKey = new Map();
    memo.set(root, byKey);
  }
  const known = byKey.get(key);
  if (known) return known;
  const reading: ReleaseReading = { tried: [] };
  for (const file of candidates) {
    if (reading.tried.includes(file)) continue;
    reading.tried.push(file);
    const release = scan(root, file);
    if (release) {
      reading.release = release;
      reading.from = file;
      break;
    }
  }
  byKey.set(key, reading);
  return reading;
}

/** -1, 0 or 1 as `a` is older than, the same as or newer than major.minor. */
export function compareRelease(a: GlibcRelease, major: number, minor: number): number {
  return a.major !== major ? Math.sign(a.major - major) : Math.sign(a.minor - minor);
}
