/**
 * Ctrl-C, SIGTERM, SIGHUP while a command works: it stops, removes what it staged (registered
 * cleanups: staging directories, a traced process tree) and exits 128 + the signal's number, as a
 * shell reports a process the signal ended. kill -9 cannot be caught: the next run removes what is left.
 */
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type Handled = keyof typeof SIGNALS;

const cleanups = new Set<() => void>();
const handlers = new Map<Handled, () => void>();

function onSignal(sig: Handled): void {
  for (const c of [...cleanups]) {
    try {
      c();
    } catch {
      // Exiting anyway: one failed cleanup must not keep the others from running.
    }
  }
  process.exit(128 + SIGNALS[sig]);
}

/** Runs `body` with `cleanup` run (synchronously) if a signal stops the process meanwhile. */
export async function withSignalCleanup<T>(cleanup: () => void, body: () => Promise<T>): Promise<T> {
  cleanups.add(cleanup);
  if (handlers.size === 0) {
    for (const sig of Object.keys(SIGNALS) as Handled[]) {
      const h = (): void => onSignal(sig);
      handlers.set(sig, h);
      process.on(sig, h);
    }
  }
  try {
    return await body();
  } finally {
    cleanups.delete(cleanup);
    if (cleanups.size === 0) {
      for (const [sig, h] of handlers) process.off(sig, h);
      handlers.clear();
    }
  }
}
