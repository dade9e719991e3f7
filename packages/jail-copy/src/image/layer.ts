/**
 * The image's one layer: the jail's tree as a tar stream, written and hashed in one pass (never held in
 * memory). tar-stream writes the headers: ustar, with a PAX header only where ustar cannot hold a value
 * (a long or non-ASCII name or link target; an id above 0o7777777). Reproducible by construction: the
 * tree's fixed order, mtimes clamped to the epoch, numeric ids without user or group names.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { JailCopyError } from '../errors.js';
import { outputIoError } from '../output/io-error.js';
import { ImageError } from './errors.js';
import type { Jail } from '../confine/inroot.js';
import { openJailFile, type JailEntry } from '../output/jail-tree.js';

export type LayerCompression = 'gzip' | 'none';

export const LAYER_MEDIA_TYPE: Record<LayerCompression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  none: 'application/vnd.oci.image.layer.v1.tar',
};

type TarHeader = Partial<Header> & Pick<Header, 'name'>;

/** zlib's own default, fixed here: the bytes of the stream depend on it. */
export const GZIP_LEVEL = 6;
const CHUNK = 256 * 1024;
/** The largest id an ustar header holds in octal (7 digits). */
const USTAR_ID_MAX = 0o7777777;

export interface LayerResult {
  /** sha256 of the blob as written (compressed). */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids. */
  diffId: string;
  entries: number;
  /** Entries a tar cannot hold (sockets), left out. */
  skipped: string[];
}

export interface LayerOptions {
  compression: LayerCompression;
  /** Seconds since 1970: no mtime in the layer is later. */
  epoch: number;
  /**
   * `jail` (the default) keeps each entry's mode, owner and (clamped) mtime; `archive` writes every
   * entry as root's, 0755 or 0644, at the epoch — for the tar of a layout, whose files' own metadata
   * is only an accident of this run.
   */
  metadata?: 'jail' | 'archive';
}

/** Hashes and counts what passes through. */
class Tap extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Writes the layer of `tree` to `out` (a new file: it must not exist) and returns its digests. */
export async function writeLayer(jail: Jail, tree: readonly JailEntry[], out: string, options: LayerOptions): Promise<LayerResult> {
  const pack = tarPack();
  const plain = new Tap();
  const packed = new Tap();
  const stages: NodeJS.ReadWriteStream[] = options.compression === 'gzip' ? [plain, zlib.createGzip({ level: GZIP_LEVEL }), packed] : [plain, packed];
  const sink = fs.createWriteStream(out, { flags: 'wx', mode: 0o644 });
  const skipped: string[] = [];
  let entries = 0;
  // A failed pipeline (a full disk) never drains again: the producer waits on this as well.
  let abort: (err: unknown) => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => (abort = reject));
  aborted.catch(() => undefined);
  const producer = (async () => {
    const linked = new Map<string, string>();
    for (const e of tree) {
      const header = headerOf(e, options.epoch, linked, options.metadata ?? 'jail');
      if (header === undefined) {
        skipped.push(e.path);
        continue;
      }
      if (header.type === 'file' && (header.size ?? 0) > 0) await addFile(pack, header, openJailFile(jail, e), aborted);
      else await addEntry(pack, header);
      entries++;
    }
    pack.finalize();
  })();
  const written = pipeline([pack as unknown as NodeJS.ReadableStream, ...stages, sink]).catch((err: unknown) => {
    abort(err);
    throw err;
  });
  try {
    await Promise.all([producer, written]);
  } catch (err) {
    pack.destroy();
    await producer.catch(() => undefined);
    await written.catch(() => undefined);
    throw asImageError(out, err);
  }
  return { digest: `sha256:${packed.hash.digest('hex')}`, size: packed.bytes, diffId: `sha256:${plain.hash.digest('hex')}`, entries, skipped };
}

/**
 * A write or read failure as one line naming the file: a refused write (ENOSPC, EROFS, …) an
 * OutputIoError, anything else an ImageError; our own errors pass through.
 */
export function asImageError(file: string, err: unknown): Error {
  if (err instanceof JailCopyError) return err;
  const e = err as NodeJS.ErrnoException;
  const where = typeof e.path === 'string' ? e.path : file;
  return outputIoError(where, err) ?? new ImageError(where, 'write', e.code ? `${e.code}: ${e.message}` : String(e.message ?? err));
}

/** The tar header of one entry; undefined for what a tar cannot hold. */
function headerOf(e: JailEntry, epoch: number, linked: Map<string, string>, metadata: 'jail' | 'archive'): TarHeader | undefined {
  const st = e.stat;
  const name = e.path.slice(1);
  const base =
    metadata === 'archive'
      ? { mode: st.isDirectory() ? 0o755 : 0o644, uid: 0, gid: 0, mtime: new Date(epoch * 1000) }
      : {
          mode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
          // Whole seconds, never after the epoch (SOURCE_DATE_EPOCH's rule: clamp, do not only set).
          mtime: new Date(Math.max(0, Math.min(Math.floor(st.mtimeMs / 1000), epoch)) * 1000),
        };
  const pax: Record<string, string> = {};
  if (st.uid > USTAR_ID_MAX) pax.uid = String(st.uid);
  if (st.gid > USTAR_ID_MAX) pax.gid = String(st.gid);
  // tar-stream moves long and non-ASCII names to PAX itself, and long link targets; a non-ASCII target
  // it would write raw into ustar's linkname, so it is sent to PAX here (any pax object makes it write
  // `path` and `linkpath` records).
  let forcePax = false;
  const withPax = (h: TarHeader): TarHeader => (Object.keys(pax).length > 0 || forcePax ? { ...h, pax } : h);
  if (st.isDirectory()) return withPax({ ...base, name: `${name}/`, type: 'directory' });
  if (st.isSymbolicLink()) {
    const linkname = fs.readlinkSync(e.host);
    forcePax = !/^[\x00-\x7f]*$/.test(linkname);
    return withPax({ ...base, name, type: 'symlink', linkname });
  }
  if (st.isFile()) {
    if (st.nlink > 1) {
      // The second and later names of an inode are hard links to the first, as GNU tar writes them.
      const key = `${st.dev}:${st.ino}`;
      const first = linked.get(key);
      if (first !== undefined) {
        forcePax = !/^[\x00-\x7f]*$/.test(first);
        return withPax({ ...base, name, type: 'link', linkname: first, size: 0 });
      }
      linked.set(key, name);
    }
    return withPax({ ...base, name, type: 'file', size: st.size });
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    return withPax({ ...base, name, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major(st.rdev), devminor: minor(st.rdev) });
  }
  if (st.isFIFO()) return withPax({ ...base, name, type: 'fifo' });
  return undefined;
}

/** glibc's gnu_dev_major / gnu_dev_minor (sysmacros.h) on the kernel's dev_t encoding. */
function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

function addEntry(pack: Pack, header: TarHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    // A sink destroyed with the pack (a failed write downstream) emits 'error': it must have a listener.
    pack.entry(header, (err) => (err ? reject(err) : resolve())).on('error', reject);
  });
}

/** A regular file's bytes from `fd` (see openJailFile), which this closes: exactly the size the walk saw. */
async function addFile(pack: Pack, header: TarHeader, fd: number, aborted: Promise<never>): Promise<void> {
  const name = `/${header.name}`;
  try {
    const size = header.size ?? 0;
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
      entry.on('error', reject);
      const pump = async (): Promise<void> => {
        let offset = 0;
        while (offset < size) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - offset));
          const n = await new Promise<number>((res, rej) => fs.read(fd, buf, 0, buf.length, offset, (err, bytes) => (err ? rej(err) : res(bytes))));
          if (n === 0) throw new ImageError(name, 'write', 'shrank in the jail while the image was being written');
          offset += n;
          if (!entry.write(n === buf.length ? buf : buf.subarray(0, n))) await Promise.race([new Promise<void>((res) => entry.once('drain', () => res())), aborted]);
        }
        // streamx types end() with a required chunk; the call without one is its documented form.
        (entry as unknown as { end(): void }).end();
      };
      pump().catch((err: unknown) => {
        entry.destroy(err instanceof Error ? err : new Error(String(err)));
        reject(err);
      });
    });
  } finally {
    fs.closeSync(fd);
  }
}
