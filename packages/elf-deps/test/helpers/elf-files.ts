/**
 * Finding ELF files by what they are, not by what they are called: every regular file under a directory
 * whose first four bytes are the ELF magic. Symlinks are not followed (the file they name is found on
 * its own), so each file is listed once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** True when `file` is readable and starts with \x7fELF. */
export function startsWithElfMagic(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(4);
    return fs.readSync(fd, head, 0, 4, 0) === 4 && head.equals(MAGIC);
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** Every regular ELF file under `root`, depth first, in directory order; symlinks and special files skipped. */
export function listElfFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      const typeKnown = isDir || isFile || e.isSymbolicLink() || e.isBlockDevice() || e.isCharacterDevice() || e.isFIFO() || e.isSocket();
      if (!typeKnown) {
        // DT_UNKNOWN from the file system: ask lstat (which never follows a link).
        const st = fs.lstatSync(p, { throwIfNoEntry: false });
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDir) walk(p);
      else if (isFile && startsWithElfMagic(p)) out.push(p);
    }
  };
  walk(root);
  return out;
}

/** Bytes this process has read through read(2)/pread(2) so far (/proc/self/io rchar). */
export function bytesReadSoFar(): number {
  const m = /^rchar:\s+(\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
  if (!m) throw new Error('/proc/self/io has no rchar line');
  return Number(m[1]);
}

/** What one /proc/self/io read itself adds to rchar: subtracted so that a measurement of nothing is 0. */
const PROBE_COST = ((): number => {
  const a = bytesReadSoFar();
  const b = bytesReadSoFar();
  return b - a;
})();

/** Runs `fn` and returns how many bytes the process read while it ran (reads are synchronous here). */
export function countBytesRead<T>(fn: () => T): { value: T; bytes: number } {
  const before = bytesReadSoFar();
  const value = fn();
  const bytes = bytesReadSoFar() - before - PROBE_COST;
  return { value, bytes: Math.max(0, bytes) };
}
