/**
 * The default `deps` output: a tree per input like libtree's, each library under the object that first
 * needed it (ld.so's loader), shown once, with how it was found.
 */
import type { ClosureGraph, RootClosure } from '@elfcopy/elf-deps';
import type { Paint } from '../report.js';
import { escapeName as esc } from './escape.js';
import { foundViaLabel, namedFamily } from './found-via.js';

export function formatTree(graph: ClosureGraph, p: Paint, opts: { showReused?: boolean } = {}): string {
  const lines: string[] = [];
  for (const rc of graph.roots) lines.push(...formatRoot(graph, rc, p, opts));
  return lines.join('\n') + (lines.length ? '\n' : '');
}

function formatRoot(graph: ClosureGraph, rc: RootClosure, p: Paint, opts: { showReused?: boolean }): string[] {
  const out: string[] = [];
  const named = namedFamily(rc.family);
  const family = named === undefined ? '' : `, ${named} loader`;
  // Names escaped before they are painted: the colours' own ESC bytes must stay raw.
  const head = rc.interpreter ? `${esc(rc.path)} ${p.dim(`(interpreter ${esc(rc.interpreter)}${family})`)}` : `${esc(rc.path)} ${p.dim(`(${rc.kind.replace('-', ' ')}${family})`)}`;
  out.push(p.bold(head));
  const children = new Map<string, typeof rc.edges>();
  for (const e of rc.edges) {
    if (e.via.kind === 'interpreter') continue;
    const isTreeEdge = e.to === undefined || (rc.loaders.get(e.to) === e.from && e.via.kind !== 'reused');
    if (!isTreeEdge && !opts.showReused) continue;
    const list = children.get(e.from) ?? [];
    list.push(e);
    children.set(e.from, list);
  }
  const visit = (from: string, prefix: string): void => {
    const kids = children.get(from) ?? [];
    kids.forEach((e, i) => {
      const last = i === kids.length - 1;
      const branch = prefix + (last ? '└── ' : '├── ');
      if (e.to === undefined) {
        const miss = rc.missing.find((m) => m.name === e.name);
        const why = miss?.reason === 'invalid' ? `invalid: ${esc(miss.detail ?? '')}` : 'not found';
        out.push(`${branch}${p.red(`${esc(e.name)} => ${why}`)}`);
        return;
      }
      const node = graph.nodes.get(e.to);
      const hw = node?.hwcapsSubdir ? `, ${node.hwcapsSubdir}` : '';
      out.push(`${branch}${esc(e.name)} => ${esc(e.to)} ${p.dim(`[${esc(foundViaLabel(e.via, e.from))}${hw}]`)}`);
      if (e.via.kind !== 'reused' && e.via.kind !== 'loader-itself') visit(e.to, prefix + (last ? '    ' : '│   '));
    });
  };
  visit(rc.path, '');
  return out;
}
