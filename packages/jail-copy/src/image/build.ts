/**
 * `buildImage`: a jail as an OCI image — a layout directory (`oci`) or an OCI archive (`tar`, the
 * layout as one tar, which `skopeo copy oci-archive:FILE` reads). One layer, the platform from the
 * jail's ELF files, reproducible byte for byte: the same jail and options give the same digests.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailCopyError } from '../errors.js';
import { Jail, TMP_PREFIX } from '../confine/inroot.js';
import { readJailText } from '../confine/jail-text.js';
import { MANIFEST_PATH, parseManifest } from '../copy/manifest.js';
import {
  ANNOTATION_CREATED,
  ANNOTATION_JAIL_MANIFEST,
  ANNOTATION_SBOM,
  MANIFEST_MEDIA_TYPE,
  checkEnv,
  checkExpose,
  checkLabel,
  checkWorkdir,
  imageConfig,
  imageManifest,
  rfc3339,
  type RunConfig,
} from './config.js';
import { ImageError } from './errors.js';
import { OutputIoError } from '../output/io-error.js';
import { LAYER_MEDIA_TYPE, asImageError, writeLayer, type LayerCompression, type LayerResult } from './layer.js';
import { OciLayout, type Descriptor } from './layout.js';
import { syncFile, tempPathIn, writeTextAtomically } from '../output/atomic-write.js';
import { platformKey, platformOf, type OciPlatform } from './platform.js';
import { parseReference, type ImageReference } from './reference.js';
import { jailElfFiles, jailTree, openJailDir, type JailEntry } from '../output/jail-tree.js';
import { DEFAULT_SOURCE_DATE_EPOCH } from '../output/epoch.js';
import { writeSbom, type SbomFormat } from '../sbom/write.js';
import { resolveUser } from './user.js';

export { DEFAULT_SOURCE_DATE_EPOCH };

export interface ImageOptions {
  /** `NAME[:TAG]` (tag default `latest`): the index's ref.name is TAG, io.containerd.image.name NAME:TAG. */
  tag: string;
  /** Write an OCI layout here (an existing layout gains the tag; an empty or missing directory becomes one). */
  oci?: string;
  /** Or write an OCI archive (a tar of the layout) to this file. */
  tar?: string;
  /** Default gzip. */
  compression?: LayerCompression;
  entrypoint?: string[];
  cmd?: string[];
  /** A user of the jail's /etc/passwd, or `UID[:GID]`. Default: unset (the image starts as uid 0). */
  user?: string;
  /** `KEY=VALUE` entries. */
  env?: string[];
  workdir?: string;
  /** `PORT[/PROTO]` entries. */
  expose?: string[];
  /** `KEY=VALUE` entries. */
  labels?: string[];
  /** Seconds since 1970 for `created` and the mtime clamp. Default DEFAULT_SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
  /** Also write the jail's SBOM to `file` (packages from `root`'s dpkg database); its digest goes into a manifest annotation. */
  sbom?: { file: string; format?: SbomFormat; root?: string };
}

export interface ImageResult {
  reference: ImageReference;
  platform: OciPlatform;
  /** The manifest's descriptor: its digest is the image's identity. */
  manifest: Descriptor;
  configDigest: string;
  layer: LayerResult;
  /** The layout directory or archive file written. */
  output: string;
  format: 'oci' | 'oci-archive';
  /** sha256 of the jail's /.elfcopy/manifest.json; undefined when the jail has none. */
  jailManifestDigest: string | undefined;
  sbom?: { file: string; digest: string };
  warnings: string[];
}

export async function buildImage(jail: string, options: ImageOptions): Promise<ImageResult> {
  if ((options.oci === undefined) === (options.tar === undefined)) throw new ImageError(options.oci ?? options.tar ?? jail, 'bad-option', 'give exactly one of --oci DIR and --tar FILE');
  const reference = parseReference(options.tag);
  const epoch = options.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new ImageError(String(epoch), 'bad-option', 'is not a SOURCE_DATE_EPOCH: give whole seconds since 1970');
  const jailRoot = Jail.open(openJailDir(jail));
  const warnings: string[] = [];
  const run = runConfig(jailRoot, options);

  const manifestText = readJailText(jailRoot, MANIFEST_PATH);
  let jailManifestDigest: string | undefined;
  if (manifestText === undefined) warnings.push(`${jail}: no ${MANIFEST_PATH}: not a jail elfcopy made; imaging the directory as it is`);
  else {
    jailManifestDigest = `sha256:${createHash('sha256').update(manifestText).digest('hex')}`;
    if (parseManifest(manifestText) === undefined) warnings.push(`${jail}${MANIFEST_PATH}: not a manifest elfcopy can read; imaging the directory as it is`);
  }

  const tree = jailTree(jailRoot.root);
  const platform = jailPlatform(jail, tree);
  const compression = options.compression ?? 'gzip';

  // An archive is a layout built beside the file (same file system: the rename is atomic), then tarred.
  const outFile = options.tar === undefined ? undefined : path.resolve(options.tar);
  if (outFile !== undefined) checkArchiveTarget(outFile);
  const layoutDir = outFile === undefined ? path.resolve(options.oci ?? '') : tempPathIn(path.dirname(outFile));
  const layout = openLayout(layoutDir, outFile);
  let wroteSbom = false;
  try {
    const layerTemp = layout.tempBlobPath();
    const layer = await writeLayer(jailRoot, tree, layerTemp, { compression, epoch });
    layout.commitBlob(layerTemp, layer.digest);
    for (const s of layer.skipped) warnings.push(`${jail}${s}: a socket; an image cannot hold it, left out`);

    const config = layout.writeBlob(imageConfig(platform, run, layer.diffId, epoch));
    const annotations: Record<string, string> = { [ANNOTATION_CREATED]: rfc3339(epoch) };
    if (jailManifestDigest !== undefined) annotations[ANNOTATION_JAIL_MANIFEST] = jailManifestDigest;
    let sbom: (ImageResult['sbom'] & { text: string }) | undefined;
    if (options.sbom) {
      const s = options.sbom;
      const made = await writeSbom(jail, { format: s.format ?? 'cyclonedx', sourceDateEpoch: epoch, name: `${reference.name}:${reference.tag}`, ...(s.root !== undefined ? { root: s.root } : {}) });
      for (const w of made.warnings) if (!warnings.includes(w)) warnings.push(w);
      sbom = { file: path.resolve(s.file), digest: made.digest, text: made.text };
      annotations[ANNOTATION_SBOM] = sbom.digest;
    }
    const manifestBytes = imageManifest(config, { mediaType: LAYER_MEDIA_TYPE[compression], digest: layer.digest, size: layer.size }, annotations);
    const manifest = { mediaType: MANIFEST_MEDIA_TYPE, ...layout.writeBlob(manifestBytes), platform: { ...platform } };
    // The SBOM goes in just before the step that makes the image visible (a layout's index.json) or
    // just after it (an archive, which is one rename): a failure before then leaves an older SBOM alone.
    const placeSbom = (): void => {
      if (!sbom) return;
      writeTextAtomically(sbom.file, sbom.text);
      wroteSbom = true;
    };
    if (outFile === undefined) placeSbom();
    layout.tag({ ...manifest, annotations: { 'io.containerd.image.name': `${reference.name}:${reference.tag}` } }, reference.tag);
    if (outFile !== undefined) {
      await writeArchive(layoutDir, outFile, epoch);
      placeSbom();
    }
    const result: ImageResult = {
      reference,
      platform,
      manifest,
      configDigest: config.digest,
      layer,
      output: outFile ?? layoutDir,
      format: outFile === undefined ? 'oci' : 'oci-archive',
      jailManifestDigest,
      warnings,
    };
    if (sbom) result.sbom = { file: sbom.file, digest: sbom.digest };
    if (outFile !== undefined) fs.rmSync(layoutDir, { recursive: true, force: true });
    return result;
  } catch (err) {
    layout.discard();
    // An SBOM of an image that was not written describes nothing.
    if (options.sbom && wroteSbom) fs.rmSync(path.resolve(options.sbom.file), { force: true });
    if (outFile !== undefined) fs.rmSync(layoutDir, { recursive: true, force: true });
    throw userNamed(err instanceof JailCopyError ? err : asImageError(layoutDir, err), outFile ?? layoutDir);
  }
}

/** The layout to build in: the output itself (--oci), or a temporary directory beside the archive (--tar). */
function openLayout(layoutDir: string, outFile: string | undefined): OciLayout {
  try {
    return OciLayout.open(layoutDir);
  } catch (err) {
    throw userNamed(err, outFile ?? layoutDir);
  }
}

/** A temporary name means nothing to the user: a write error about one names `output`, which is untouched. */
function userNamed(e: unknown, output: string): unknown {
  if (e instanceof OutputIoError && e.path.includes(TMP_PREFIX)) return new OutputIoError(output, e.code, e.why);
  if (e instanceof ImageError && e.kind === 'write' && e.path.includes(TMP_PREFIX)) return new ImageError(output, 'write', `${e.message}; nothing was written there`);
  return e;
}

function runConfig(jail: Jail, o: ImageOptions): RunConfig {
  const run: RunConfig = {};
  if (o.entrypoint) run.entrypoint = o.entrypoint;
  if (o.cmd) run.cmd = o.cmd;
  if (o.user !== undefined) run.user = resolveUser(jail, o.user);
  if (o.env && o.env.length > 0) run.env = o.env.map(checkEnv);
  if (o.workdir !== undefined) run.workdir = checkWorkdir(o.workdir);
  if (o.expose && o.expose.length > 0) run.expose = o.expose.map(checkExpose);
  if (o.labels && o.labels.length > 0) run.labels = Object.fromEntries(o.labels.map(checkLabel));
  return run;
}

/**
 * The platform of the jail's programs: of the ELF files with an interpreter (executables), else of all.
 * ELF files of two platforms among them make the image's platform a guess: refused.
 */
function jailPlatform(jail: string, tree: readonly JailEntry[]): OciPlatform {
  const elves = jailElfFiles(tree);
  if (elves.length === 0) throw new ImageError(jail, 'platform', 'holds no ELF file: nothing tells the image its architecture');
  const programs = elves.filter((e) => e.elf.interpreter !== undefined);
  const pool = programs.length > 0 ? programs : elves;
  const seen = new Map<string, { platform: OciPlatform; example: string }>();
  for (const { entry, elf } of pool) {
    const p = platformOf(elf);
    if (p === undefined) throw new ImageError(`${jail}${entry.path}`, 'platform', `is an ELF file for machine ${elf.machine} (${elf.elfClass}-bit ${elf.byteOrder}-endian), which has no OCI architecture name`);
    const key = platformKey(p);
    if (!seen.has(key)) seen.set(key, { platform: p, example: entry.path });
  }
  if (seen.size > 1) {
    const list = [...seen].map(([k, v]) => `${k} (${v.example})`).join(', ');
    throw new ImageError(jail, 'platform', `holds programs of several architectures: ${list}; an image has one`);
  }
  const [only] = [...seen.values()];
  if (!only) throw new ImageError(jail, 'platform', 'holds no ELF file: nothing tells the image its architecture');
  return only.platform;
}

function checkArchiveTarget(file: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(file);
  } catch {
    st = undefined;
  }
  if (st && !st.isFile()) throw new ImageError(file, 'bad-output', 'exists and is not a regular file; refusing to replace it');
  try {
    if (!fs.statSync(path.dirname(file)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new ImageError(file, 'bad-output', 'its directory does not exist');
  }
}

/** The layout as one tar (image-spec: an "OCI archive" is a tar of the layout), written beside `file` then renamed. */
async function writeArchive(layoutDir: string, file: string, epoch: number): Promise<void> {
  const tree = jailTree(layoutDir);
  const temp = tempPathIn(path.dirname(file));
  try {
    await writeLayer(Jail.open(layoutDir), tree, temp, { compression: 'none', epoch, metadata: 'archive' });
    syncFile(temp);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw asImageError(file, err);
  }
}
