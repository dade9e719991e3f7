/**
 * The image config and manifest (image-spec config.md, manifest.md) from the options, checked: every
 * value a user typed is validated here, so a bad one is an ImageError naming it before anything is written.
 */
import { ImageError } from './errors.js';
import type { Descriptor } from './layout.js';
import type { OciPlatform } from './platform.js';

export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** Annotation keys of ours, reverse-DNS as the spec asks. */
export const ANNOTATION_JAIL_MANIFEST = 'dev.elfcopy.jail.manifest.digest';
export const ANNOTATION_SBOM = 'dev.elfcopy.sbom.digest';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

export interface RunConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** `uid:gid`, already resolved. */
  user?: string;
  env?: string[];
  workdir?: string;
  expose?: string[];
  labels?: Record<string, string>;
}

/** `KEY=VALUE`; the key non-empty and without '='. */
export function checkEnv(value: string): string {
  if (!/^[^=\0]+=[^\0]*$/.test(value)) throw new ImageError(value, 'bad-option', "is not an environment entry: give --env KEY=VALUE");
  return value;
}

/** `PORT[/tcp|udp|sctp]` → `PORT/PROTO` as ExposedPorts keys are written. */
export function checkExpose(value: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(value);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) throw new ImageError(value, 'bad-option', 'is not a port: give --expose PORT or PORT/tcp, PORT/udp, PORT/sctp (1-65535)');
  return `${port}/${m[2] ?? 'tcp'}`;
}

/** `KEY=VALUE` → [key, value]. */
export function checkLabel(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new ImageError(value, 'bad-option', 'is not a label: give --label KEY=VALUE');
  return [value.slice(0, eq), value.slice(eq + 1)];
}

export function checkWorkdir(value: string): string {
  if (!value.startsWith('/') || value.includes('\0')) throw new ImageError(value, 'bad-option', 'is not an absolute path: --workdir is a directory inside the image');
  return value;
}

/** RFC 3339 in UTC, whole seconds, as the spec's `created` and Go's time.Time marshal it. */
export function rfc3339(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function imageConfig(platform: OciPlatform, run: RunConfig, diffId: string, epoch: number): Buffer {
  const config: Record<string, unknown> = {};
  if (run.user !== undefined) config.User = run.user;
  if (run.expose && run.expose.length > 0) config.ExposedPorts = Object.fromEntries([...new Set(run.expose)].sort().map((p) => [p, {}]));
  if (run.env && run.env.length > 0) config.Env = run.env;
  if (run.entrypoint) config.Entrypoint = run.entrypoint;
  if (run.cmd) config.Cmd = run.cmd;
  if (run.workdir !== undefined) config.WorkingDir = run.workdir;
  if (run.labels && Object.keys(run.labels).length > 0) config.Labels = Object.fromEntries(Object.entries(run.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const created = rfc3339(epoch);
  // Key order is fixed by construction: the same options give the same bytes.
  return Buffer.from(
    JSON.stringify({
      created,
      architecture: platform.architecture,
      ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
      os: platform.os,
      config,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: 'elfcopy image' }],
    }),
  );
}

export function imageManifest(config: { digest: string; size: number }, layer: Descriptor, annotations: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size },
      layers: [layer],
      annotations: Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    }),
  );
}
