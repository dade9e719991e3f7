/** The closure graph (graph.ts), how it is computed (resolver.ts, map-object.ts, namespace.ts) and read (why.ts). */
export type { ClosureGraph, ClosureNode, EdgeVia, FoundVia, MissingLibrary, RootClosure, TriedDirectory } from './graph.js';
export type { ResolveOptions } from './options.js';
export { Resolver, analyzeDeps, resolveClosure } from './resolver.js';
export { whyChains } from './why.js';
