import type { ClosureGraph } from '@elfcopy/elf-deps';

/**
 * `--list`: the union closure, one absolute path per line, sorted and unique — each input, its
 * interpreter, and every library as the loader finds it. The shape scripts pipe into cp.
 */
export function formatList(graph: ClosureGraph): string {
  const paths = new Set<string>();
  for (const rc of graph.roots) for (const p of rc.objects) paths.add(p);
  const sorted = [...paths].sort();
  return sorted.length ? sorted.join('\n') + '\n' : '';
}
