/** `elfcopy unit`: print a systemd service (or --sysv init script) for a program in the jail. */
import { checkUnitProgram, renderSystemdUnit, renderSysvScript, type UnitOptions } from '@elfcopy/jail-copy';
import { EXIT_OK } from './exit-codes.js';
import { checkJailDir } from './jail-checks.js';
import { UsageError } from './usage-error.js';

export interface UnitCliOptions {
  jail: string;
  pidFile?: string;
  user?: string;
  group?: string;
  description?: string;
  test?: string;
  reload?: string;
  sysv?: boolean;
}

export function runUnit(program: string, args: string[], opts: UnitCliOptions, stdout: NodeJS.WritableStream = process.stdout): number {
  checkJailDir(opts.jail);
  if (!program.startsWith('/')) throw new UsageError(`${program}: give the program's absolute path inside the jail`);
  checkUnitProgram(opts.jail, program);
  const o: UnitOptions = { jail: opts.jail, program, args };
  if (opts.pidFile) o.pidFile = opts.pidFile;
  if (opts.user) o.user = opts.user;
  if (opts.group) o.group = opts.group;
  if (opts.description) o.description = opts.description;
  if (opts.test !== undefined) o.testArgs = opts.test.split(' ').filter(Boolean);
  if (opts.reload !== undefined) o.reloadArgs = opts.reload.split(' ').filter(Boolean);
  stdout.write(opts.sysv ? renderSysvScript(o) : renderSystemdUnit(o));
  return EXIT_OK;
}
