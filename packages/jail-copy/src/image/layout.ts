/**
 * An OCI image layout on disk (image-layout.md): `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
 * Every file is written under a temporary name beside its final one, synced, then renamed: a blob at its
 * final name is always whole (its name is its digest), and index.json changes in one rename at the end,
 * so a failure (a full disk) leaves the layout as it was.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { syncFile, tempPathIn, writeTextAtomically } from '../output/atomic-write.js';
import { outputIoError } from '../output/io-error.js';
import { ImageError } from './errors.js';
import { asImageError } from './layer.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_VERSION = '1.0.0';
export const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** An index.json larger than this was not written by an image tool. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export class OciLayout {
  readonly dir: string;
  /** True when this run made the directory (a failed run removes it again). */
  readonly created: boolean;
  private readonly index: IndexJson;
  private readonly temps = new Set<string>();

  private constructor(dir: string, created: boolean, index: IndexJson) {
    this.dir = dir;
    this.created = created;
    this.index = index;
  }

  /**
   * The layout at `dir`: an existing layout, or an empty or missing directory made into one. Anything
   * else there (a file, a directory with other content) is refused: writing into it could clobber it.
   */
  static open(dir: string): OciLayout {
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw asImageError(dir, err);
    }
    if (st === undefined) {
      try {
        fs.mkdirSync(dir, { mode: 0o755 });
      } catch (err) {
        throw outputIoError(dir, err) ?? new ImageError(dir, 'bad-output', `cannot be created (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
      fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
      return new OciLayout(dir, true, { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [] });
    }
    if (!st.isDirectory()) throw new ImageError(dir, 'bad-output', 'exists and is not a directory; refusing to write an image layout there');
    const names = fs.readdirSync(dir);
    if (names.length === 0) {
      fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
      return new OciLayout(dir, false, { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [] });
    }
    const layout = readSmallJson(path.join(dir, OCI_LAYOUT_FILE), 4096) as { imageLayoutVersion?: unknown } | undefined;
    if (layout === undefined || typeof layout.imageLayoutVersion !== 'string') {
      throw new ImageError(dir, 'bad-output', `exists, is not empty and is not an OCI image layout (no valid ${OCI_LAYOUT_FILE}); refusing to write into it`);
    }
    const index = readSmallJson(path.join(dir, 'index.json'), MAX_INDEX_BYTES) as Partial<IndexJson> | undefined;
    if (index === undefined || !Array.isArray(index.manifests)) throw new ImageError(path.join(dir, 'index.json'), 'bad-output', 'is missing or not an OCI image index; refusing to rewrite it');
    fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
    return new OciLayout(dir, false, { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, ...index, manifests: index.manifests });
  }

  /** A new temporary name in the blob directory (removed by `discard` unless committed). */
  tempBlobPath(): string {
    const p = tempPathIn(path.join(this.dir, 'blobs', 'sha256'));
    this.temps.add(p);
    return p;
  }

  /** Syncs the temporary file and gives it its digest's name. */
  commitBlob(temp: string, digest: string): void {
    const final = this.blobPath(digest);
    try {
      syncFile(temp);
      fs.renameSync(temp, final);
      this.temps.delete(temp);
    } catch (err) {
      throw asImageError(final, err);
    }
  }

  /** A small blob (config, manifest) from bytes. */
  writeBlob(bytes: Buffer): { digest: string; size: number } {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const temp = this.tempBlobPath();
    try {
      fs.writeFileSync(temp, bytes, { flag: 'wx', mode: 0o644 });
    } catch (err) {
      throw asImageError(temp, err);
    }
    this.commitBlob(temp, digest);
    return { digest, size: bytes.length };
  }

  blobPath(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  }

  /**
   * Points `refName` at `manifest` (any earlier manifest of that name is dropped from the index, its
   * blobs stay, as skopeo does) and writes oci-layout and index.json, each in one rename.
   */
  tag(manifest: Descriptor, refName: string): void {
    const others = this.index.manifests.filter((m) => m.annotations?.[REF_NAME] !== refName);
    const manifests = [...others, { ...manifest, annotations: { ...manifest.annotations, [REF_NAME]: refName } }];
    this.writeText(OCI_LAYOUT_FILE, JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
    this.writeText('index.json', JSON.stringify({ ...this.index, manifests }));
    syncFile(this.dir);
  }

  /** Removes the temporary files of a failed run, and the directory itself when this run made it. */
  discard(): void {
    for (const t of this.temps) fs.rmSync(t, { force: true });
    this.temps.clear();
    if (this.created) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private writeText(name: string, text: string): void {
    writeTextAtomically(path.join(this.dir, name), text);
  }
}

/** JSON of a regular file of at most `max` bytes, opened without following a link; undefined when absent or invalid. */
function readSmallJson(file: string, max: number): unknown {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > max) return undefined;
    return JSON.parse(fs.readFileSync(fd, 'utf8')) as unknown;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
