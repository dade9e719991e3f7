import type { ClosureGraph } from '@elfcopy/elf-deps';
import { escapeName } from './escape.js';

/** The union closure: each input, its interpreter, and every library as the loader finds it; sorted, unique. */
export function closurePaths(graph: ClosureGraph): string[] {
  const paths = new Set<string>();
  for (const rc of graph.roots) for (const p of rc.objects) paths.add(p);
  return [...paths].sort();
}

/**
 * `--list`: one path per line, the shape scripts pipe into cp or tar, each name escaped (escape.ts) so
 * that a name holding a newline stays one line; with `--null`, the names raw, each ended by a NUL (as
 * `find -print0`), for `xargs -0`, `tar --null -T -`, `cpio -0`.
 */
export function formatList(graph: ClosureGraph, opts: { nul?: boolean } = {}): string {
  const sorted = closurePaths(graph);
  if (opts.nul) return sorted.map((p) => `${p}\0`).join('');
  return sorted.length ? sorted.map(escapeName).join('\n') + '\n' : '';
}
