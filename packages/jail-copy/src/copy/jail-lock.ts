/**
 * One writer at a time per jail: JAIL/.elfcopy/lock, made with O_EXCL by the run that applies a plan
 * (a copy, init) before it reads the manifest, and removed when the run ends. Two runs at once had each
 * read the manifest, applied, and written it back: the later rename won, and the other run's installer
 * and entries were gone from it (its files stayed in the jail, unrecorded: no prune or re-run knew
 * them). A second run now stops at once, before it changes anything — it never waits.
 *
 * The lock holds "PID STARTTIME" (STARTTIME: field 22 of /proc/PID/stat, the process's start in clock
 * ticks since boot). A lock whose process is gone, or whose PID now names another process, was left by
 * a run killed with no chance to remove it (SIGKILL, a power cut): it is taken over, so that the next
 * run still completes what the killed one began. A run that is stopped by a signal removes it with
 * what it staged (trackStaging). Two runs taking over the same stale lock within the same few
 * microseconds could both go on; that needs a killed run first and is left at that.
 *
 * A run with nothing to do (the plan reused) and a dry run take no lock: they write nothing.
 */
import * as fs from 'node:fs';
import { type Jail } from '../confine/inroot.js';
import { readJailText } from '../confine/jail-text.js';
import { asJailIoError, JailBusyError } from '../errors.js';
import { ensureDir, trackStaging } from './fileops.js';
import { MANIFEST_DIR } from './state-dir.js';

export const LOCK_PATH = `${MANIFEST_DIR}/lock`;
const LOCK_NAME = 'lock';

/** Who holds a lock, as its file says. */
interface Holder {
  pid: number;
  /** Undefined when the file does not say (or /proc could not tell when it was written). */
  start: string | undefined;
}

/**
 * Takes the jail's lock, making JAIL/.elfcopy if it is missing (root-only, as the manifest's writer
 * makes it). Returns the function that gives it back; throws JailBusyError when a live run holds it.
 */
export async function lockJail(jail: Jail): Promise<() => void> {
  await ensureDir(jail, MANIFEST_DIR, { mode: 0o700, uid: 0, gid: 0, force: true });
  const mine = `${process.pid} ${startTimeOf(process.pid) ?? '-'}\n`;
  let holder: Holder | undefined;
  // A stale lock is taken over once; a lock that is back after that (or keeps coming and going) is another run's.
  let staleTaken = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ino = tryCreate(jail, mine);
    if (ino !== undefined) return releaser(jail, ino);
    const text = readJailText(jail, LOCK_PATH);
    // Gone between the create and the read: its holder has just finished.
    if (text === undefined) continue;
    holder = parseHolder(text);
    if (staleTaken || (holder !== undefined && isRunning(holder))) break;
    removeLock(jail, undefined);
    staleTaken = true;
  }
  throw new JailBusyError(jail.root, holder?.pid, LOCK_PATH);
}

/** The lock made with O_EXCL and filled; its inode, or undefined when one is there already. */
function tryCreate(jail: Jail, content: string): number | undefined {
  const { dir } = jail.openParent(LOCK_PATH);
  try {
    let fd: number;
    try {
      fd = fs.openSync(dir.entry(LOCK_NAME), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw asJailIoError(err, jail.root, LOCK_PATH);
    }
    try {
      fs.writeSync(fd, content);
      return fs.fstatSync(fd).ino;
    } catch (err) {
      fs.rmSync(dir.entry(LOCK_NAME), { force: true });
      throw asJailIoError(err, jail.root, LOCK_PATH);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    dir.close();
  }
}

/** Removes the lock; with `ino`, only while it is still that file (never a lock another run made since). */
function removeLock(jail: Jail, ino: number | undefined): void {
  const parent = jail.openParentIfThere(LOCK_PATH);
  if (!parent) return;
  try {
    const at = parent.dir.entry(LOCK_NAME);
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st === undefined || (ino !== undefined && st.ino !== ino)) return;
    fs.rmSync(at, { force: true });
  } finally {
    parent.dir.close();
  }
}

function releaser(jail: Jail, ino: number): () => void {
  let untrack: (() => void) | undefined;
  const release = (): void => {
    untrack?.();
    untrack = undefined;
    removeLock(jail, ino);
  };
  untrack = trackStaging(() => removeLock(jail, ino));
  return release;
}

function parseHolder(text: string): Holder | undefined {
  const m = /^(\d+) (\d+|-)\n?$/.exec(text);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, start: m[2] === '-' ? undefined : m[2] } : undefined;
}

/** True when the lock's process is still the one that wrote it. */
function isRunning(holder: Holder): boolean {
  const now = startTimeOf(holder.pid);
  if (now !== undefined) return holder.start === undefined || now === holder.start;
  // No /proc entry: gone, unless /proc cannot tell (not mounted) — then the kernel says.
  if (fs.existsSync('/proc/self/stat')) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat (after the command name, which may hold spaces and parentheses). */
function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 3 onwards follow the name: field 22 is the 20th of them.
  const start = fields[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}
