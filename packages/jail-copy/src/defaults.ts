/**
 * The defaults of the options the library and the CLI share, written once: the library falls back to
 * them and the CLI's help shows them.
 */
export const DEFAULTS = {
  /** Parallel copies (applyPlan, copyIntoJail: `--jobs`). */
  jobs: 4,
  /** Seconds a traced command may run before it and all it started are stopped (`trace --timeout`). */
  traceTimeoutSeconds: 30,
  /** The severity at or above which a jail check fails (`audit --fail-on`; verify fails at it too). */
  failOn: 'medium',
} as const;
