/**
 * `elfcopy unit`: a systemd service (or a SysV init script) that runs a program inside the jail, as the
 * article's hand-written units do, plus the sandboxing systemd offers. A daemon is stopped by its pid
 * file, never by killing every process that has its name.
 */
import * as path from 'node:path';
import { SysRoot } from '@elfcopy/elf-deps';
import { JailCopyError } from '../errors.js';

export interface UnitOptions {
  jail: string;
  /** The program, as an in-jail path. */
  program: string;
  args?: string[];
  /** In-jail pid file (e.g. /run/nginx.pid); its presence makes the service Type=forking. */
  pidFile?: string;
  /** Run as this user (omit for daemons whose master must start as root and drop privileges itself). */
  user?: string;
  group?: string;
  description?: string;
  /** Arguments for a configuration test run before start (e.g. ['-t']). */
  testArgs?: string[];
  /** Arguments for reload (e.g. ['-s', 'reload']); default: SIGHUP to the main pid. */
  reloadArgs?: string[];
}

/** The program a unit would start is not one the jail holds. */
export class UnitError extends JailCopyError {
  override name = 'UnitError';
}

/**
 * systemd (RootDirectory=) and chroot(8) exec the program after changing root, so it must be an
 * executable regular file inside the jail, its links followed inside the jail as the kernel would.
 */
export function checkUnitProgram(jail: string, program: string): void {
  if (!program.startsWith('/')) throw new UnitError(program, "give the program's absolute path inside the jail");
  const st = new SysRoot(jail).stat(program);
  if (st === undefined) throw new UnitError(program, `not in the jail ${jail} (the unit runs it after changing root there: copy it in first)`);
  if (!st.isFile()) throw new UnitError(program, `not a regular file in the jail ${jail}`);
  if ((st.mode & 0o111) === 0) throw new UnitError(program, `not executable in the jail ${jail}`);
}

const quote = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function renderSystemdUnit(o: UnitOptions): string {
  const name = path.posix.basename(o.program);
  const cmd = (extra: string[] = []): string => [o.program, ...(o.args ?? []), ...extra].map(quote).join(' ');
  const lines = [
    '[Unit]',
    `Description=${o.description ?? `${name} in the jail ${o.jail}`}`,
    'After=network.target',
    '',
    '[Service]',
    `Type=${o.pidFile ? 'forking' : 'simple'}`,
    ...(o.pidFile ? [`PIDFile=${path.posix.join(o.jail, o.pidFile)}`] : []),
    `RootDirectory=${o.jail}`,
    ...(o.user ? [`User=${o.user}`] : []),
    ...(o.group ? [`Group=${o.group}`] : []),
    ...(o.testArgs ? [`ExecStartPre=${cmd(o.testArgs)}`] : []),
    `ExecStart=${cmd()}`,
    // '+': the default reload runs on the host, outside RootDirectory=, where /bin/kill exists (the
    // jail has none); a --reload command is the program's own and runs in the jail.
    o.reloadArgs ? `ExecReload=${cmd(o.reloadArgs)}` : 'ExecReload=+/bin/kill -HUP $MAINPID',
    o.pidFile ? '# Stopped through its main pid (read from PIDFile=), never by name.' : '# Stopped through its main pid (the process ExecStart= starts), never by name.',
    'KillMode=mixed',
    'TimeoutStopSec=5',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'LockPersonality=yes',
    'MountAPIVFS=no',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE',
    `ReadWritePaths=${o.jail}/run ${o.jail}/var/log ${o.jail}/tmp`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

export function renderSysvScript(o: UnitOptions): string {
  const name = path.posix.basename(o.program);
  const cmd = [o.program, ...(o.args ?? [])].map(shq).join(' ');
  const pid = o.pidFile ? path.posix.join(o.jail, o.pidFile) : `/run/${name}-jail.pid`;
  return `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ${name}-jail
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: ${o.description ?? `${name} in the jail ${o.jail}`}
### END INIT INFO
# Written by elfcopy unit --sysv. Stops the daemon by its pid file, never by name.
JAIL=${shq(o.jail)}
PIDFILE=${shq(pid)}

# Only a process whose root is this jail is ours.
ours() {
  [ "$(readlink /proc/"$1"/root 2>/dev/null)" = "$(readlink -f "$JAIL")" ]
}

# Leaves the pid in $pid: stop waits on the process after the daemon has removed its file.
running() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE") || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  ours "$pid"
}

case "$1" in
  start)
    running && { echo "${name}: already running"; exit 0; }
    ${o.user ? `/usr/sbin/chroot --userspec=${shq(o.user + (o.group ? ':' + o.group : ''))} "$JAIL" ${cmd}` : `/usr/sbin/chroot "$JAIL" ${cmd}`}${o.pidFile ? ` || { echo "${name}: failed to start" >&2; exit 1; }` : ' &\n    echo $! > "$PIDFILE"'}
    ;;
  stop)
    # Wait for the process itself, not its pid file: a daemon removes the file before it has exited
    # (nginx before closing its listening sockets), and a restart would race it.
    if running; then
      kill -TERM "$(cat "$PIDFILE")"
      i=0; while ours "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
      ours "$pid" && kill -KILL "$pid"
    fi
    ${o.pidFile ? '' : 'rm -f "$PIDFILE"'}
    ;;
  reload)
    running && kill -HUP "$(cat "$PIDFILE")"
    ;;
  status)
    if running; then echo "${name}: running ($(cat "$PIDFILE"))"; else echo "${name}: stopped"; exit 3; fi
    ;;
  *)
    echo "Usage: $0 {start|stop|reload|status}" >&2
    exit 2
    ;;
esac
exit 0
`;
}
