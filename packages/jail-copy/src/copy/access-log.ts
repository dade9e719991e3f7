/**
 * What a plan was computed from, for the plan cache (plan-cache.ts): an observer attached to the
 * resolver's SysRoot. elf-deps keeps no such record; this is where jail-copy attaches one.
 */
import { SysRoot, type SysRootObserver } from '@elfcopy/elf-deps';

/**
 * The plan cache's record of what a plan was computed from: every in-root path the resolver's SysRoot
 * consulted, and whether a directory's listing was read (a new entry there could change a result) or it
 * was only looked up. It asks for the component walk, so every link on every path is in the record.
 */
class AccessLog implements SysRootObserver {
  readonly walkComponents = true;
  private readonly consulted = new Map<string, 'listed' | 'seen'>();

  seen(p: string): void {
    if (!this.consulted.has(p)) this.consulted.set(p, 'seen');
  }

  listed(p: string): void {
    this.consulted.set(p, 'listed');
  }

  /** The paths consulted so far, sorted. */
  paths(): { path: string; listed: boolean }[] {
    return [...this.consulted].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([p, how]) => ({ path: p, listed: how === 'listed' }));
  }
}

const accessLogs = new WeakMap<SysRoot, AccessLog>();

/** A view of `root` that records every path it consults, for consultedPaths. */
export function recordingRoot(root: string): SysRoot {
  const log = new AccessLog();
  const view = new SysRoot(root, { observer: log });
  accessLogs.set(view, log);
  return view;
}

/** What a view made by recordingRoot consulted (sorted); empty for any other view. */
export function consultedPaths(root: SysRoot): { path: string; listed: boolean }[] {
  return accessLogs.get(root)?.paths() ?? [];
}
