import type { ClosureGraph } from '@elfcopy/elf-deps';
import { escapeName } from './escape.js';

/** The union closure: each input, its interpreter, and every library as the loader finds it; sorted, unique. */
export function closurePaths(graph: ClosureGraph): string[] {
  const paths = new Set<string>();
  // Indexed loops: a batch lists thousands of objects, and this runs once, before V8 optimises it.
  const roots = graph.roots;
  for (let r = 0; r < roots.length; r++) {
    const objects = (roots[r] as (typeof roots)[number]).objects;
    for (let i = 0; i < objects.length; i++) paths.add(objects[i] as string);
  }
  return [...paths].sort();
}

/**
 * `--list`: one path per line, the shape scripts pipe into cp or tar, each name escaped (escape.ts) so
 * that a name holding a newline stays one line; with `--null`, the names raw, each ended by a NUL (as
 * `find -print0`), for `xargs -0`, `tar --null -T -`, `cpio -0`.
 */
export function formatList(graph: ClosureGraph, opts: { nul?: boolean } = {}, sorted: string[] = closurePaths(graph)): string {
  if (opts.nul) return sorted.map((p) => `${p}\0`).join('');
  return sorted.length ? sorted.map(escapeName).join('\n') + '\n' : '';
}
