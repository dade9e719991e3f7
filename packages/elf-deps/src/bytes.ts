/**
 * Bounded positioned reads. A ByteSource never reads a whole file: callers ask for (offset, length) and
 * get exactly those bytes or an ElfFormatError naming the field that pointed outside the file.
 * Reads are synchronous: every file here is small-read, page-cached work, and a sync pread costs a few
 * microseconds where a libuv round trip costs tens (measured in bench/).
 */
import * as fs from 'node:fs';
import { ElfFormatError, UnreadableFileError, type UnreadableKind } from './errors.js';

const BLOCK = 4096;
const MAX_CACHED_BLOCKS = 64;
/**
 * Block buffers are recycled when a source closes: a closure of a thousand files would otherwise leave
 * a few thousand 4 KiB buffers to the garbage collector. Callers decode what they read before close().
 */
const freeBlocks: Buffer[] = [];
const MAX_FREE_BLOCKS = 256;

/** Open only regular files; refuse the rest by their type before open() can block (FIFOs) or hang. */
export function describeNonRegular(st: fs.Stats): { kind: UnreadableKind; message: string } | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return { kind: 'directory', message: 'is a directory' };
  if (st.isFIFO()) return { kind: 'fifo', message: 'is a FIFO (named pipe), not a file' };
  if (st.isSocket()) return { kind: 'socket', message: 'is a socket, not a file' };
  if (st.isCharacterDevice()) return { kind: 'char-device', message: 'is a character device, not a file' };
  if (st.isBlockDevice()) return { kind: 'block-device', message: 'is a block device, not a file' };
  return { kind: 'not-regular', message: 'is not a regular file' };
}

export function errnoToUnreadable(path: string, err: unknown): UnreadableFileError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new UnreadableFileError(path, 'not-found', 'no such file or directory');
    case 'ENOTDIR':
      return new UnreadableFileError(path, 'not-found', 'a component of the path is not a directory');
    case 'ELOOP':
      return new UnreadableFileError(path, 'symlink-loop', 'too many levels of symbolic links (a symlink loop)');
    case 'EACCES':
    case 'EPERM':
      return new UnreadableFileError(path, 'permission', 'permission denied');
    case 'EISDIR':
      return new UnreadableFileError(path, 'directory', 'is a directory');
    case 'ENAMETOOLONG':
      return new UnreadableFileError(path, 'not-found', 'file name too long');
    default:
      return new UnreadableFileError(path, 'io', `cannot read: ${code ?? String(err)}`);
  }
}

export class ByteSource {
  readonly path: string;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  private fd: number | undefined;
  /**
   * The cached blocks, oldest first: their numbers and buffers side by side. A file read for its
   * headers and strings touches a handful, so a scan beats a Map (and allocates no iterator on close).
   */
  private readonly blockNumbers: number[] = [];
  private readonly blockBuffers: Buffer[] = [];

  private constructor(path: string, fd: number, st: fs.Stats) {
    this.path = path;
    this.fd = fd;
    this.size = st.size;
    this.dev = st.dev;
    this.ino = st.ino;
    this.mode = st.mode;
  }

  /**
   * Opens `hostPath` for reading. `displayPath` is what errors name (the path as the user or the
   * sysroot sees it). O_NONBLOCK keeps a FIFO swapped in after the type check from blocking open().
   * `checkedRegular`: the caller has just stat'd it as a regular file, so the check before open() (which
   * keeps devices from being opened at all) is not repeated; the fstat after it is made either way.
   */
  static open(hostPath: string, displayPath: string = hostPath, checkedRegular = false): ByteSource {
    let fd: number;
    try {
      if (!checkedRegular) {
        const bad = describeNonRegular(fs.statSync(hostPath));
        if (bad) throw new UnreadableFileError(displayPath, bad.kind, bad.message);
      }
      fd = fs.openSync(hostPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      if (err instanceof UnreadableFileError) throw err;
      throw errnoToUnreadable(displayPath, err);
    }
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw errnoToUnreadable(displayPath, err);
    }
    const bad = describeNonRegular(st);
    if (bad) {
      fs.closeSync(fd);
      throw new UnreadableFileError(displayPath, bad.kind, bad.message);
    }
    return new ByteSource(displayPath, fd, st);
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
      const buffers = this.blockBuffers;
      for (let i = 0; i < buffers.length; i++) {
        const b = buffers[i] as Buffer;
        if (b.length === BLOCK && freeBlocks.length < MAX_FREE_BLOCKS) freeBlocks.push(b);
      }
      buffers.length = 0;
      this.blockNumbers.length = 0;
    }
  }

  /** True when [offset, offset+length) lies inside the file. */
  contains(offset: number, length: number): boolean {
    return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.size;
  }

  /**
   * Exactly `length` bytes at `offset`, or an ElfFormatError naming `field`. Small reads go through a
   * block cache so that neighbouring strings and table entries cost one pread.
   */
  read(offset: number, length: number, field: string): Buffer {
    if (!this.contains(offset, length)) {
      throw new ElfFormatError(
        this.path,
        field,
        Number.isSafeInteger(offset) ? offset : -1,
        `${field} points outside the file (${length} bytes at ${offset}, file size ${this.size})`,
      );
    }
    if (length === 0) return Buffer.alloc(0);
    const first = Math.floor(offset / BLOCK);
    const last = Math.floor((offset + length - 1) / BLOCK);
    if (first === last) {
      const block = this.block(first);
      const start = offset - first * BLOCK;
      return block.subarray(start, start + length);
    }
    return this.readDirect(offset, length);
  }

  /** A NUL-terminated string at `offset`, at most `limit` bytes long (the end of its table). */
  readCString(offset: number, limit: number, field: string): string {
    const end = Math.min(this.size, offset + limit);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= end) {
      throw new ElfFormatError(this.path, field, offset, `${field} string offset is outside its table`);
    }
    // The common case, a string inside one block: decoded from the block itself, no view made.
    const firstIndex = Math.floor(offset / BLOCK);
    const firstBlock = this.block(firstIndex);
    const firstStart = offset - firstIndex * BLOCK;
    const firstStop = Math.min(firstBlock.length, end - firstIndex * BLOCK);
    const firstNul = firstBlock.indexOf(0, firstStart);
    if (firstNul >= 0 && firstNul < firstStop) return firstBlock.toString('utf8', firstStart, firstNul);
    const parts: Buffer[] = [];
    let pos = offset;
    while (pos < end) {
      const blockIndex = Math.floor(pos / BLOCK);
      const block = this.block(blockIndex);
      const start = pos - blockIndex * BLOCK;
      const stop = Math.min(block.length, end - blockIndex * BLOCK);
      const slice = block.subarray(start, stop);
      const nul = slice.indexOf(0);
      if (nul >= 0) {
        parts.push(slice.subarray(0, nul));
        const first = parts[0];
        return parts.length === 1 && first ? first.toString('utf8') : Buffer.concat(parts).toString('utf8');
      }
      parts.push(slice);
      pos += slice.length;
      if (slice.length === 0) break;
    }
    throw new ElfFormatError(this.path, field, offset, `${field} string is not NUL-terminated inside its table`);
  }

  private block(index: number): Buffer {
    const numbers = this.blockNumbers;
    for (let i = 0; i < numbers.length; i++) if (numbers[i] === index) return this.blockBuffers[i] as Buffer;
    const offset = index * BLOCK;
    const length = Math.min(BLOCK, this.size - offset);
    const buf = length === BLOCK ? this.readInto(freeBlocks.pop() ?? Buffer.allocUnsafe(BLOCK), offset) : this.readDirect(offset, length);
    if (numbers.length >= MAX_CACHED_BLOCKS) {
      // The oldest goes; it is not recycled: a caller may still hold a view of it.
      numbers.shift();
      this.blockBuffers.shift();
    }
    numbers.push(index);
    this.blockBuffers.push(buf);
    return buf;
  }

  private readDirect(offset: number, length: number): Buffer {
    return this.readInto(Buffer.allocUnsafe(length), offset);
  }

  private readInto(buf: Buffer, offset: number): Buffer {
    if (this.fd === undefined) throw new Error(`ByteSource for ${this.path} used after close()`);
    const length = buf.length;
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, done, length - done, offset + done);
      } catch (err) {
        throw errnoToUnreadable(this.path, err);
      }
      if (n === 0) {
        // The file shrank under us: treat as truncated input, never loop.
        throw new ElfFormatError(this.path, 'file', offset + done, 'file is shorter than its size said (truncated while reading)');
      }
      done += n;
    }
    return buf;
  }
}
