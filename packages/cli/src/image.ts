/** `elfcopy image JAIL --oci DIR | --tar FILE --tag NAME[:TAG]`: the jail as an OCI image. */
import { buildImage, OutputIoError, type ImageOptions, type LayerCompression, type SbomFormat } from '@elfcopy/jail-copy';
import { EXIT_JAIL_IO, EXIT_OK } from './exit-codes.js';
import { describeError, type Reporter } from './report.js';
import { UsageError } from './usage-error.js';

export interface ImageCliOptions {
  oci?: string;
  tar?: string;
  tag?: string;
  compression?: string;
  entrypoint?: string;
  cmd?: string;
  user?: string;
  env?: string[];
  workdir?: string;
  expose?: string[];
  label?: string[];
  sbom?: string;
  sbomFormat?: string;
  root?: string;
  json?: boolean;
}

export async function runImage(jail: string, opts: ImageCliOptions, report: Reporter, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (opts.tag === undefined) throw new UsageError('image: give the image a name with --tag NAME[:TAG]');
  if ((opts.oci === undefined) === (opts.tar === undefined)) throw new UsageError('image: give exactly one of --oci DIR and --tar FILE');
  const compression = opts.compression ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'none') throw new UsageError(`--compression ${compression}: choose gzip or none`);
  const o: ImageOptions = { tag: opts.tag, compression: compression as LayerCompression, sourceDateEpoch: sourceDateEpoch() };
  if (opts.oci !== undefined) o.oci = opts.oci;
  if (opts.tar !== undefined) o.tar = opts.tar;
  if (opts.entrypoint !== undefined) o.entrypoint = jsonArray('--entrypoint', opts.entrypoint);
  if (opts.cmd !== undefined) o.cmd = jsonArray('--cmd', opts.cmd);
  if (opts.user !== undefined) o.user = opts.user;
  if (opts.env?.length) o.env = opts.env;
  if (opts.workdir !== undefined) o.workdir = opts.workdir;
  if (opts.expose?.length) o.expose = opts.expose;
  if (opts.label?.length) o.labels = opts.label;
  if (opts.sbom !== undefined) o.sbom = { file: opts.sbom, format: sbomFormat(opts.sbomFormat), ...(opts.root !== undefined ? { root: opts.root } : {}) };
  const r = await refusedWriteExits(report, () => buildImage(jail, o));
  if (typeof r === 'number') return r;
  for (const w of r.warnings) report.warn(w);
  if (opts.json) {
    stdout.write(JSON.stringify({ schema: 'elfcopy.image/1', ...r }, null, 2) + '\n');
    return EXIT_OK;
  }
  const arch = r.platform.variant ? `${r.platform.architecture}/${r.platform.variant}` : r.platform.architecture;
  report.info(`${r.format === 'oci' ? 'oci' : 'oci-archive'}:${r.output}:${r.reference.tag}  ${r.reference.name}:${r.reference.tag}  linux/${arch}  ${r.layer.entries} entries`);
  stdout.write(`${r.manifest.digest}\n`);
  if (r.sbom) report.info(`sbom ${r.sbom.file} ${r.sbom.digest}`);
  return EXIT_OK;
}

/**
 * `run`'s result, or the exit code of an output whose file system refused the write (full, read-only,
 * over quota, failing): one line naming the output, and 3, as a jail's refused write exits.
 */
export async function refusedWriteExits<T>(report: Reporter, run: () => Promise<T>): Promise<T | number> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof OutputIoError)) throw err;
    report.error(describeError(err));
    return EXIT_JAIL_IO;
  }
}

/** SOURCE_DATE_EPOCH (reproducible-builds.org): whole seconds since 1970; unset means the library's default. */
export function sourceDateEpoch(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`SOURCE_DATE_EPOCH=${v}: not whole seconds since 1970`);
  return Number(v);
}

export function sbomFormat(v: string | undefined): SbomFormat {
  const f = v ?? 'cyclonedx';
  if (f !== 'cyclonedx') throw new UsageError(`--format ${f}: elfcopy writes cyclonedx (CycloneDX 1.6 JSON) only`);
  return f;
}

function jsonArray(option: string, text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`${option} ${text}: not JSON; give a JSON array of strings, e.g. '["/usr/sbin/nginx","-g","daemon off;"]'`);
  }
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw new UsageError(`${option} ${text}: give a JSON array of strings`);
  return v;
}
