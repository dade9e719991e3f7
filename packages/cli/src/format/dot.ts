/** `--dot`: the dependency graph for Graphviz, each edge labelled with how the library was found. */
import type { ClosureGraph } from '@elfcopy/elf-deps';
import { escapeName } from './escape.js';
import { foundViaLabel, namedFamily } from './found-via.js';

/** A DOT string: the name escaped first (escape.ts), so a control character is shown, never acted on. */
const q = (s: string): string => `"${escapeName(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function formatDot(graph: ClosureGraph): string {
  const lines = ['digraph elfcopy {', '  rankdir=LR;', '  node [shape=box, fontname="monospace", fontsize=10];', '  edge [fontsize=9];'];
  const seen = new Set<string>();
  for (const rc of graph.roots) {
    const named = namedFamily(rc.family);
    const family = named === undefined ? '' : `, label=${q(`${rc.path} (${named} loader)`)}`;
    lines.push(`  ${q(rc.path)} [style=bold${family}];`);
    for (const e of rc.edges) {
      const to = e.to ?? `${e.name} (missing)`;
      const key = `${e.from}\0${to}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (e.to === undefined) lines.push(`  ${q(to)} [color=red, fontcolor=red];`);
      const style = e.via.kind === 'reused' ? ', style=dashed' : '';
      lines.push(`  ${q(e.from)} -> ${q(to)} [label=${q(foundViaLabel(e.via, e.from))}${style}];`);
    }
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
