/** `elfcopy deps`: parse options, call analyzeDeps, format. */
import { analyzeDeps, whyChains, type ClosureGraph, type ResolveOptions } from '@elfcopy/elf-deps';
import { directoryBatch, namedBatch } from './batch-heap.js';
import { EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK } from './exit-codes.js';
import { formatDot } from './format/dot.js';
import { formatJson } from './format/json.js';
import { escapeName, needsEscape } from './format/escape.js';
import { closurePaths, formatList } from './format/list.js';
import { formatTree } from './format/tree.js';
import { namedFamily } from './format/found-via.js';
import { describeError, paint, useColor, type Reporter } from './report.js';
import { stdoutOutput, type Output } from './output.js';
import { dlopenFrom, resolveOptionsFrom, type ResolverCliOptions } from './resolver-options.js';
import { UsageError } from './usage-error.js';

export interface DepsCliOptions extends ResolverCliOptions {
  list?: boolean;
  json?: boolean;
  dot?: boolean;
  why?: string;
  all?: boolean;
  dlopen?: string;
  /** -0/--null: --list ends each path with a NUL and prints it raw. */
  null?: boolean;
}

export function runDeps(paths: string[], opts: DepsCliOptions, report: Reporter, stdout: Output = stdoutOutput()): number {
  const resolveOptions: ResolveOptions = resolveOptionsFrom(opts);
  if (opts.list) resolveOptions.detail = 'objects';
  resolveOptions.onDirectoryInput = directoryBatch;
  namedBatch(paths.length);
  if (opts.dlopen !== undefined) resolveOptions.dlopen = dlopenFrom(opts.dlopen, { allowNone: false });
  if (opts.null && !opts.list) throw new UsageError('-0/--null goes with --list');
  const graph = analyzeDeps(paths, resolveOptions);
  if (opts.json) stdout.write(formatJson(graph));
  else if (opts.list) {
    const paths = closurePaths(graph);
    stdout.write(formatList(graph, { nul: Boolean(opts.null) }, paths));
    const escaped = opts.null ? 0 : paths.filter(needsEscape).length;
    if (escaped > 0) report.warn(`${escaped} path(s) hold a control character or a backslash, printed escaped as GNU ls -b prints them (GNU tar -T reads them back); -0 prints them raw, NUL-terminated`);
  }
  else if (opts.dot) stdout.write(formatDot(graph));
  else if (opts.why !== undefined) stdout.write(formatWhy(graph, opts.why));
  else stdout.write(formatTree(graph, paint(useColor(stdout)), { showReused: Boolean(opts.all) }));
  return finish(graph, report, opts.why);
}

function formatWhy(graph: ClosureGraph, query: string): string {
  const chains = whyChains(graph, query);
  // A chain another family's rules made says so.
  const family = (root: string): string => {
    const f = namedFamily(graph.roots.find((rc) => rc.path === root)?.family);
    return f === undefined ? '' : `  [${f} loader]`;
  };
  return chains.map((c) => c.chain.map(escapeName).join(' -> ') + family(c.root)).join('\n') + (chains.length ? '\n' : '');
}

/** Missing libraries and bad inputs on stderr, one line each; the exit code says which happened. */
export function finish(graph: ClosureGraph, report: Reporter, why?: string): number {
  for (const w of graph.warnings) report.warn(w);
  for (const e of graph.inputErrors) report.error(describeError(e));
  for (const m of graph.missing) {
    const what = m.reason === 'invalid' ? `cannot be loaded: ${m.detail ?? 'invalid'}` : 'not found';
    report.error(`${m.name}: ${what} (needed by ${m.neededBy.join(', ')})`);
  }
  if (why !== undefined && whyChains(graph, why).length === 0) report.error(`${why}: not in the closure of any input`);
  if (graph.inputErrors.length > 0) return EXIT_BAD_INPUT;
  if (graph.missing.length > 0) return EXIT_INCOMPLETE;
  if (why !== undefined && whyChains(graph, why).length === 0) return EXIT_INCOMPLETE;
  return EXIT_OK;
}
