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
  const self = fileURLToPath(import.meta.url);
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `${version}+${statSync(self).mtimeMs}`;
}
