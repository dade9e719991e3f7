/** `elfcopy deps --why`: the chains of loaders that bring a library into each input's closure. */
import * as path from 'node:path';
import type { ClosureGraph } from './graph.js';

/**
 * Why is `query` (a soname, a name, or a path) in the closure: for each input that loads it, the chain of
 * loaders from the input down to it.
 */
export function whyChains(graph: ClosureGraph, query: string): { root: string; chain: string[] }[] {
  const out: { root: string; chain: string[] }[] = [];
  const matches = (p: string): boolean => {
    const node = graph.nodes.get(p);
    if (!node) return false;
    return p === query || node.realPath === query || node.soname === query || node.name === query || path.posix.basename(p) === query;
  };
  for (const rc of graph.roots) {
    for (const p of rc.objects) {
      if (!matches(p) || p === rc.path) continue;
      const chain: string[] = [p];
      let cur = rc.loaders.get(p);
      const seen = new Set<string>([p]);
      while (cur !== undefined && !seen.has(cur)) {
        chain.unshift(cur);
        seen.add(cur);
        cur = rc.loaders.get(cur);
      }
      out.push({ root: rc.path, chain });
    }
  }
  return out;
}
