/**
 * verify resolves every ELF file of a jail as an input of its own, but a library's dependencies are
 * searched in the namespace that loads it: musl searches the RPATH/RUNPATH of every object up the
 * chain of loaders (load_library), glibc the DT_RPATH of every loader. A name a library misses on its
 * own but that resolves where a program loads it is no finding; one it misses there too is.
 */
import type { ClosureGraph, MissingLibrary } from '@elfcopy/elf-deps';

export function missingInContext(graph: ClosureGraph): MissingLibrary[] {
  // For each object, the namespaces of other inputs that load it, and whether a name was missing there.
  const loadedIn = new Map<string, ClosureGraph['roots']>();
  for (const rc of graph.roots) {
    for (const p of rc.objects) {
      if (p === rc.path) continue;
      const list = loadedIn.get(p) ?? [];
      list.push(rc);
      loadedIn.set(p, list);
    }
  }
  const out: MissingLibrary[] = [];
  for (const m of graph.missing) {
    const neededBy = m.neededBy.filter((by) => {
      const contexts = loadedIn.get(by);
      if (!contexts) return true;
      return contexts.some((rc) => rc.missing.some((x) => x.name === m.name && x.neededBy.includes(by)));
    });
    if (neededBy.length > 0) out.push({ ...m, neededBy });
  }
  return out;
}
