/** `elfcopy trace [--into JAIL] -- CMD ARGS…`: run CMD on the host, report what it loaded. */
import { DEFAULTS, traceCommand, traceIntoJail, type TraceMethod, type TraceResult } from '@elfcopy/jail-copy';
import { EXIT_INCOMPLETE, EXIT_OK } from './exit-codes.js';
import { runCopyWith, type CopyCliOptions } from './copy.js';
import { escapeName } from './format/escape.js';
import type { Reporter } from './report.js';
import { withSignalCleanup } from './signals.js';
import { UsageError } from './usage-error.js';

export interface TraceCliOptions {
  into?: string;
  json?: boolean;
  prefix?: string[];
  timeout?: string;
  method?: string;
  quiet?: boolean;
}

export async function runTrace(command: string[], opts: TraceCliOptions, report: Reporter, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  if (command.length === 0) throw new UsageError('trace needs a command after --, e.g. elfcopy trace -- php8.2 -r "echo 1;"');
  const timeout = opts.timeout === undefined ? DEFAULTS.traceTimeoutSeconds : Number(opts.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError('--timeout takes a number of seconds');
  const method = (opts.method ?? 'auto') as TraceMethod | 'auto';
  if (!['auto', 'strace', 'ld-debug'].includes(method)) throw new UsageError('--method takes auto, strace or ld-debug');
  const traceOptions = { method, timeoutMs: timeout * 1000, prefixes: opts.prefix ?? [] };
  const traced = (r: TraceResult): void => {
    for (const w of r.warnings) report.warn(w);
    if (r.timedOut) report.warn(`${command[0]}: stopped after ${timeout} s (what it loaded until then is reported)`);
  };
  if (opts.into) {
    // One library call: trace, then copy what it loaded and opened (reported as `elfcopy copy` reports).
    const copyOpts: CopyCliOptions = { into: opts.into, ...(opts.quiet ? { quiet: true } : {}) };
    return runCopyWith((jail, copy, events) => traceIntoJail(command, jail, { trace: traceOptions, copy }, { ...events, onTraced: traced }), copyOpts, report, stdout);
  }
  // Stopped by a signal: the traced command and everything it started end too.
  let stop: (() => void) | undefined;
  const r = await withSignalCleanup(
    () => stop?.(),
    () => traceCommand(command, { ...traceOptions, onStart: (s) => (stop = s) }),
  );
  traced(r);
  if (opts.json) stdout.write(JSON.stringify({ schema: 'elfcopy.trace/1', ...r }, null, 2) + '\n');
  else stdout.write([...r.objects, ...r.files].map(escapeName).join('\n') + (r.objects.length + r.files.length ? '\n' : ''));
  return r.objects.length > 0 || r.exitCode === 0 ? EXIT_OK : EXIT_INCOMPLETE;
}
