/**
 * `traceIntoJail`: everything `elfcopy trace --into JAIL -- CMD` does, as one call — run CMD on the
 * host under trace (tools/trace.ts), then copy what it loaded, with the closures, and the files it
 * opened below the trace's prefixes into the jail (copyIntoJail). The CLI parses its arguments, calls
 * this and formats what it returns; an npm user gets the same run.
 */
import { traceCommand, type TraceOptions, type TraceResult } from '../tools/trace.js';
import { copyIntoJail, type CopyIntoJailEvents, type CopyIntoJailOptions, type CopyIntoJailResult } from './copy-into-jail.js';

export interface TraceIntoJailOptions {
  /** How CMD is traced (method, timeout, prefixes, …); a stop function goes to the events' onCleanup. */
  trace?: Omit<TraceOptions, 'onStart'>;
  /** How the copy runs (profiles, plan cache, …); its extraFiles come before the files the trace saw. */
  copy?: Omit<CopyIntoJailOptions, 'trace'>;
}

export interface TraceIntoJailEvents extends CopyIntoJailEvents {
  /** The trace has ended, before anything is planned: report its warnings now. */
  onTraced?: (trace: TraceResult) => void;
}

export interface TraceIntoJailResult extends CopyIntoJailResult {
  trace: TraceResult;
}

export async function traceIntoJail(command: readonly string[], jailDir: string, options: TraceIntoJailOptions = {}, events: TraceIntoJailEvents = {}): Promise<TraceIntoJailResult> {
  // Stopped by a signal while CMD runs: CMD and all it started end too (onCleanup's undo).
  const trace = await traceCommand([...command], { ...options.trace, ...(events.onCleanup ? { onStart: events.onCleanup } : {}) });
  events.onTraced?.(trace);
  const copy = options.copy ?? {};
  const seen = trace.files.map((f) => ({ path: f, reason: `opened at run time by ${command[0] ?? ''}` }));
  const result = await copyIntoJail(trace.objects, jailDir, { ...copy, extraFiles: [...(copy.extraFiles ?? []), ...seen] }, events);
  return { ...result, trace };
}
