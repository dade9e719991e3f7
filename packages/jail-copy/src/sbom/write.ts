/**
 * `writeSbom`: the SBOM of a jail as text, on request written to a file (beside it under a temporary
 * name, then renamed: never half-written at the final path).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { writeTextAtomically } from '../output/atomic-write.js';
import { DEFAULT_SOURCE_DATE_EPOCH } from '../output/epoch.js';
import { toCycloneDx } from './cyclonedx.js';
import { describeJail, type InventoryOptions } from './inventory.js';

/**
 * The formats written. CycloneDX 1.6 only: SPDX 2.3 JSON waits for a schema the tests can validate it
 * against (none is packaged for npm or Debian).
 */
export type SbomFormat = 'cyclonedx';

export interface SbomOptions extends InventoryOptions {
  /** Default cyclonedx. */
  format?: SbomFormat;
  /** Write here (atomically); else only return the text. */
  output?: string;
  /** Seconds since 1970 for the document's timestamp. Default: DEFAULT_SOURCE_DATE_EPOCH. */
  sourceDateEpoch?: number;
  /** What the SBOM describes (default: the jail directory's name). */
  name?: string;
}

export interface SbomResult {
  format: SbomFormat;
  text: string;
  /** sha256 of the text. */
  digest: string;
  output?: string;
  packages: number;
  files: number;
  warnings: string[];
}

export async function writeSbom(jail: string, options: SbomOptions = {}): Promise<SbomResult> {
  const inv = describeJail(jail, options.root !== undefined ? { root: options.root } : {});
  const format = options.format ?? 'cyclonedx';
  const epoch = options.sourceDateEpoch ?? DEFAULT_SOURCE_DATE_EPOCH;
  const name = options.name ?? path.basename(inv.jail);
  const text = toCycloneDx(inv, { epoch, name });
  const result: SbomResult = {
    format,
    text,
    digest: `sha256:${createHash('sha256').update(text).digest('hex')}`,
    packages: inv.packages.length,
    files: inv.files.length,
    warnings: inv.warnings,
  };
  if (options.output !== undefined) {
    const out = path.resolve(options.output);
    writeTextAtomically(out, text);
    result.output = out;
  }
  return result;
}
