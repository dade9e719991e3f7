/**
 * `elfcopy trace -- CMD ARGS…`: the one place elfcopy executes a program. It runs CMD on the host under
 * strace (when present) or the loader's own LD_DEBUG=files tracing, and collects every shared object
 * loaded at run time and, by option, every file opened below chosen prefixes. Bounded by a timeout.
 *
 * The command runs in its own PID namespace (unshare --pid --fork --kill-child --mount-proc): a daemon
 * that forks and calls setsid() leaves the process group, not the namespace, and when the namespace's
 * first process ends the kernel ends every other one in it (pid_namespaces(7)). That first process waits
 * for everything the command started — strace -f for its tracees, or a small sh reaper under LD_DEBUG —
 * so the trace returns as soon as all of it has exited, and at the timeout that first process is killed,
 * which takes all the rest with it before unshare returns. Where no
 * namespace can be made (no unshare, no CAP_SYS_ADMIN), the process group is the bound, with a warning.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ElfDepsError, hasElfMagic, readElf } from '@elfcopy/elf-deps';
import { DEFAULTS } from '../defaults.js';

export type TraceMethod = 'strace' | 'ld-debug';

export interface TraceOptions {
  method?: TraceMethod | 'auto';
  /** Milliseconds before the traced command is killed (default 30 s). */
  timeoutMs?: number;
  /** Also report every file opened below these directories (e.g. /usr/share, /etc). */
  prefixes?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Receives, once the command runs, a synchronous function that kills it and all it started (for a signal handler). */
  onStart?: (stop: () => void) => void;
}

export interface TraceResult {
  method: TraceMethod;
  command: string[];
  exitCode: number | undefined;
  timedOut: boolean;
  /** Shared objects loaded at run time (real paths), the command's own executable excluded. */
  objects: string[];
  /** Files opened below the prefixes (real paths; only with `prefixes`). */
  files: string[];
  /** True when the command ran in its own PID namespace (all it started ended with it). */
  contained: boolean;
  warnings: string[];
}

/** The traced command could not be run at all. */
export class TraceError extends ElfDepsError {
  override name = 'TraceError';
}

// execa is loaded when a command is actually run: importing jail-copy stays cheap.
const loadExeca = async (): Promise<typeof import('execa')['execa']> => (await import('execa')).execa;

async function haveStrace(): Promise<boolean> {
  const execa = await loadExeca();
  const r = await execa('strace', ['-V'], { reject: false, stdin: 'ignore' });
  return r.exitCode === 0;
}

const OPEN_RE = /^\d+\s+(?:open|openat|openat2)\((?:AT_FDCWD|\d+(?:<[^>]*>)?), "((?:[^"\\]|\\.)*)".*\)\s+=\s+(\d+)/;
const LD_FILE_RE = /file=(\S+) \[\d+\];\s+generating link map/;
const LD_INIT_RE = /calling init: (\S+)/;

function unescapeStrace(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e.startsWith('x')) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return e === 'n' ? '\n' : e === 't' ? '\t' : e;
  });
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function isSharedObject(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile() || !hasElfMagic(p)) return false;
    const info = readElf(p);
    return info.kind === 'shared-library' || (info.kind === 'pie-executable' && info.dynamic?.soname !== undefined);
  } catch {
    return false;
  }
}

/** The namespace wrapper: the command's processes are a PID namespace of their own, with their own /proc. */
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--'];

/**
 * The namespace's first process under LD_DEBUG: runs the command in the foreground (LD_DEBUG set for it
 * alone, not for sh or sleep, whose own loads would be reported), then, as the namespace's init, reaps
 * what it left (orphans are re-parented to it) until it is the only process there (its /proc lists the
 * namespace's processes only), and exits with the command's status.
 */
const REAPER = `LD_DEBUG=files LD_DEBUG_OUTPUT="$ELFCOPY_TRACE_OUT" "$@"
status=$?
while :; do
  set -- /proc/[0-9]*
  [ $# -le 1 ] && exit $status
  sleep 0.05
done`;

/** The first child of `pid` (unshare's: the namespace's first process), from /proc; undefined when none yet. */
function firstChild(pid: number): number | undefined {
  try {
    const first = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    const n = Number(first);
    return first && Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

let namespaceWorks: Promise<boolean> | undefined;

/** Whether this process may make a PID namespace (root, or CAP_SYS_ADMIN), tried once. */
function canUnshare(): Promise<boolean> {
  namespaceWorks ??= loadExeca().then(async (execa) => (await execa(UNSHARE[0] ?? 'unshare', [...UNSHARE.slice(1), 'true'], { reject: false, stdin: 'ignore', timeout: 10_000 })).exitCode === 0);
  return namespaceWorks;
}

export async function traceCommand(command: readonly string[], options: TraceOptions = {}): Promise<TraceResult> {
  if (command.length === 0) throw new TraceError('', 'no command to trace (give it after --)');
  const method: TraceMethod = options.method === 'auto' || options.method === undefined ? ((await haveStrace()) ? 'strace' : 'ld-debug') : options.method;
  const contained = await canUnshare();
  const warnings = contained ? [] : ['cannot make a PID namespace (unshare --pid needs root): a daemon the command starts with setsid() may outlive the trace'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-trace-'));
  const out = path.join(dir, 'trace');
  const [cmd, ...args] = command as [string, ...string[]];
  const traced = method === 'strace' ? ['strace', '-f', '-qq', '-s', '4096', '-e', 'trace=open,openat,openat2', '-e', 'status=successful', '-o', out, '--', cmd, ...args] : [cmd, ...args];
  const argv = !contained ? traced : method === 'strace' ? [...UNSHARE, ...traced] : [...UNSHARE, 'sh', '-c', REAPER, 'sh', ...traced];
  const env = { ...options.env, ...(method === 'ld-debug' ? (contained ? { ELFCOPY_TRACE_OUT: out } : { LD_DEBUG: 'files', LD_DEBUG_OUTPUT: out }) : {}) };
  const execa = await loadExeca();
  const [program = cmd, ...programArgs] = argv;
  const child = execa(program, programArgs, {
    reject: false,
    cwd: options.cwd,
    env,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
    detached: true,
  });
  const pid = child.pid;
  const killGroup = (): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  // The namespace's first process is killed, not unshare: the kernel then kills every other process
  // in the namespace and reaps them before that first one is gone (zap_pid_ns_processes), and unshare
  // waits for it — so once unshare has exited, nothing of the command is left. Before unshare has
  // forked it, or without a namespace, the process group is what there is to kill.
  const end = (): void => {
    const init = contained && pid !== undefined ? firstChild(pid) : undefined;
    if (init === undefined) return killGroup();
    try {
      process.kill(init, 'SIGKILL');
    } catch {
      killGroup();
    }
  };
  options.onStart?.(end);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    end();
  }, options.timeoutMs ?? DEFAULTS.traceTimeoutSeconds * 1000);
  let result: Awaited<typeof child>;
  try {
    result = await child;
  } finally {
    clearTimeout(timer);
    // Without a namespace: whatever is left in the group (a daemon's setsid() escapes even that).
    killGroup();
  }
  if (result.failed && result.exitCode === undefined && !timedOut) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new TraceError(command[0] ?? '', `cannot run: ${result.shortMessage}`);
  }
  const opened = new Set<string>();
  const objects = new Set<string>();
  for (const f of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const line of text.split('\n')) {
      if (method === 'strace') {
        const m = OPEN_RE.exec(line);
        const name = m?.[1];
        if (name !== undefined) opened.add(unescapeStrace(name));
      } else {
        const name = (LD_INIT_RE.exec(line) ?? LD_FILE_RE.exec(line))?.[1];
        if (name?.startsWith('/')) objects.add(realOrSelf(name));
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const self = realOrSelf(resolveCommand(cmd, options.env?.PATH ?? process.env.PATH ?? ''));
  for (const p of opened) {
    const real = realOrSelf(p);
    if (real !== self && isSharedObject(real)) objects.add(real);
  }
  objects.delete(self);
  const prefixes = (options.prefixes ?? []).map((p) => path.resolve(p));
  const files = prefixes.length
    ? [...opened].map(realOrSelf).filter((p) => prefixes.some((pre) => p === pre || p.startsWith(pre.endsWith('/') ? pre : pre + '/')) && fs.existsSync(p) && fs.statSync(p).isFile())
    : [];
  return {
    method,
    command: [...command],
    exitCode: timedOut ? undefined : result.exitCode,
    timedOut,
    objects: [...objects].sort(),
    files: [...new Set(files)].sort(),
    contained,
    warnings,
  };
}

function resolveCommand(cmd: string, pathEnv: string): string {
  if (cmd.includes('/')) return path.resolve(cmd);
  for (const d of pathEnv.split(':')) {
    const p = path.join(d || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      continue;
    }
  }
  return cmd;
}
