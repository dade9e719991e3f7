/**
 * An inventory as CycloneDX 1.6 JSON, through the CycloneDX JavaScript library (its model, and its
 * normalizer with sorted lists: the same inventory gives the same bytes). Debian packages are library
 * components with purl, licenses and their files nested as file components (nesting is CycloneDX's
 * "contains"); files no package owns sit at the top level. Dependencies: the closure graph, between
 * packages and between files.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { Enums, Models, Serialize, Spec, SPDX } from '@cyclonedx/cyclonedx-library';
import { spdxIdOf } from './dep5.js';
import type { InventoryFile, JailInventory } from './inventory.js';

export interface CycloneDxOptions {
  /** Seconds since 1970 for metadata.timestamp. */
  epoch: number;
  /** The name of the described thing (the image reference, or the jail directory's name). */
  name: string;
}

/** Properties of ours, in CycloneDX's namespace convention for tools (`NAME:key`). */
const P = 'elfcopy';

export function toCycloneDx(inv: JailInventory, options: CycloneDxOptions): string {
  const bom = new Models.Bom();
  bom.metadata.timestamp = new Date(options.epoch * 1000);
  const version = toolVersion();
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, 'elfcopy', version !== undefined ? { version } : {}));
  const subject = new Models.Component(Enums.ComponentType.Container, options.name, { bomRef: 'jail' });
  if (inv.jailManifestDigest !== undefined) subject.properties.add(new Models.Property(`${P}:jail-manifest-digest`, inv.jailManifestDigest));
  if (inv.os?.prettyName !== undefined) subject.properties.add(new Models.Property(`${P}:root-os`, inv.os.prettyName));
  bom.metadata.component = subject;

  const byKey = new Map<string, Models.Component>();
  for (const p of inv.packages) {
    const c = new Models.Component(Enums.ComponentType.Library, p.name, { bomRef: p.purl, version: p.version, purl: p.purl });
    for (const l of p.licenses ?? []) {
      const id = spdxIdOf(l);
      c.licenses.add(id !== undefined && SPDX.isSupportedSpdxId(id) ? new Models.SpdxLicense(id) : new Models.NamedLicense(l));
    }
    if (p.maintainer !== undefined) c.supplier = new Models.OrganizationalEntity({ name: p.maintainer });
    if (p.homepage !== undefined && /^https?:\/\//.test(p.homepage)) c.externalReferences.add(new Models.ExternalReference(p.homepage, Enums.ExternalReferenceType.Website));
    c.properties.add(new Models.Property(`${P}:deb:architecture`, p.architecture));
    c.properties.add(new Models.Property(`${P}:deb:source`, `${p.source.name} ${p.source.version}`));
    byKey.set(p.key, c);
    bom.components.add(c);
  }

  const fileRef = (path: string): string => `file:${path}`;
  const fileComponents = new Map<string, Models.Component>();
  for (const f of inv.files) {
    const c = fileComponent(f, fileRef(f.path));
    fileComponents.set(f.path, c);
    const owner = f.package === undefined ? undefined : byKey.get(f.package);
    if (owner) owner.components.add(c);
    else bom.components.add(c);
  }
  for (const [from, tos] of inv.packageDependencies) {
    const a = byKey.get(from);
    for (const to of tos) {
      const b = byKey.get(to);
      if (a && b) a.dependencies.add(b.bomRef);
    }
  }
  for (const [from, tos] of inv.fileDependencies) {
    const a = fileComponents.get(from);
    for (const to of tos) {
      const b = fileComponents.get(to);
      if (a && b) a.dependencies.add(b.bomRef);
    }
  }
  // The described jail depends on its packages and on the files no package owns.
  for (const c of bom.components) subject.dependencies.add(c.bomRef);

  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 }) + '\n';
}

function fileComponent(f: InventoryFile, ref: string): Models.Component {
  const c = new Models.Component(Enums.ComponentType.File, f.path, { bomRef: ref });
  c.hashes.set(Enums.HashAlgorithm['SHA-256'], f.sha256);
  c.properties.add(new Models.Property(`${P}:file:mode`, f.mode.toString(8).padStart(4, '0')));
  c.properties.add(new Models.Property(`${P}:file:uid`, String(f.uid)));
  c.properties.add(new Models.Property(`${P}:file:gid`, String(f.gid)));
  c.properties.add(new Models.Property(`${P}:file:size`, String(f.size)));
  if (f.listedAs !== undefined) c.properties.add(new Models.Property(`${P}:dpkg:listed-as`, f.listedAs));
  if (f.unverified) c.properties.add(new Models.Property(`${P}:dpkg:md5`, 'not recorded'));
  if (f.differsFrom) {
    c.properties.add(new Models.Property(`${P}:dpkg:differs-from`, f.differsFrom.package));
    c.properties.add(new Models.Property(`${P}:dpkg:recorded-md5`, f.differsFrom.md5));
  }
  for (const r of f.reasons ?? []) c.properties.add(new Models.Property(`${P}:reason`, r));
  return c;
}


/** jail-copy's version (from the ESM build and from the CLI bundle alike, as profilesDir finds its files). */
function toolVersion(): string | undefined {
  try {
    const req: NodeRequire = typeof require === 'function' ? require : createRequire(import.meta.url);
    const v = (JSON.parse(fs.readFileSync(req.resolve('@elfcopy/jail-copy/package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
