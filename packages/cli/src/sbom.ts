/** `elfcopy sbom JAIL`: the jail's SBOM (CycloneDX 1.6 JSON) on stdout or in a file. */
import { writeSbom } from '@elfcopy/jail-copy';
import { EXIT_OK } from './exit-codes.js';
import { refusedWriteExits, sbomFormat, sourceDateEpoch } from './image.js';
import type { Reporter } from './report.js';

export interface SbomCliOptions {
  format?: string;
  output?: string;
  root?: string;
}

export async function runSbom(jail: string, opts: SbomCliOptions, report: Reporter, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  const epoch = sourceDateEpoch();
  const r = await refusedWriteExits(report, () => writeSbom(jail, {
    format: sbomFormat(opts.format),
    ...(opts.root !== undefined ? { root: opts.root } : {}),
    ...(opts.output !== undefined ? { output: opts.output } : {}),
    ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
  }));
  if (typeof r === 'number') return r;
  for (const w of r.warnings) report.warn(w);
  if (opts.output === undefined) {
    // A reader that closes the pipe early ends the run quietly (main.ts: exit 141, as SIGPIPE).
    stdout.write(r.text);
  }
  else report.info(`${r.format} ${r.output ?? ''}: ${r.packages} packages, ${r.files} files`);
  return EXIT_OK;
}
