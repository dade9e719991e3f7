/**
 * Which elfcopy build is running: part of a jail's plan-cache key, so a plan made by other code is never
 * reused. The bundle has it defined at build time; the tsc build takes the version and this module's
 * own modification time.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function buildId(): string {
  const defined = process.env.ELFCOPY_BUILD_ID;
  if (defined) return defined;
  // import.meta.url is empty in a bundle made without the define: then the process's own start time
  // makes every run a new build (no plan is ever reused), which is slow but never wrong.
  const url = import.meta.url as string | undefined;
  if (!url) return `unknown+${process.pid}+${Date.now()}`;
  const self = fileURLToPath(url);
  const { version } = JSON.parse(readFileSync(new URL('../package.json', url), 'utf8')) as { version: string };
  return `${version}+${statSync(self).mtimeMs}`;
}
