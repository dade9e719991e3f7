/**
 * elfcopy's command line: commander wiring only. Each command parses its options, calls one library
 * function and formats the result; errors become one line and an exit code (program.ts).
 */
import type { Command } from 'commander';
import type { VerifyCliOptions } from './jail-checks.js';
import type { InitCliOptions } from './init.js';
import type { TraceCliOptions } from './trace.js';
import type { UnitCliOptions } from './unit.js';
import type { ImageCliOptions } from './image.js';
import type { SbomCliOptions } from './sbom.js';
import { DEFAULTS } from '@elfcopy/jail-copy/defaults';
import { makeReporter } from './report.js';
import { addCopyCommand } from './copy-command.js';
import { addDepsCommand, baseProgram, collect, machineOptions, runMain, start } from './program.js';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = addCopyCommand(addDepsCommand(baseProgram(), setExit), setExit);
  program
    .command('init')
    .description('lay out a jail: /dev nodes, /etc essentials, a jail nsswitch.conf, accounts without root')
    .argument('<jail>', 'the jail directory (created if missing)')
    .option('--user <name[:uid:gid]>', 'an account for the jail (repeatable; host ids unless given)', collect, [])
    .option('--writable <user:/dir,...>', 'directories owned and writable by a service user (repeatable)', collect, [])
    .option('--etc <files>', `host /etc files to copy (default localtime,hosts,host.conf,resolv.conf,services,protocols; 'none')`)
    .option('--nsswitch <file>', 'nsswitch.conf to install (default: files, and files dns for hosts)')
    .option('--no-nsswitch', 'leave nsswitch.conf alone')
    .option('--no-devices', 'make no device nodes (non-root)')
    .option('--dry-run', 'print the plan and change nothing')
    .action(async (jail: string, opts: InitCliOptions, cmd: Command) => {
      const [{ runInit }, { withSignalCleanup }, { removeStaging }] = await Promise.all([import('./init.js'), import('./signals.js'), import('@elfcopy/jail-copy/internal')]);
      setExit(await withSignalCleanup(removeStaging, () => runInit(jail, opts, makeReporter(cmd.optsWithGlobals()))));
    });

  machineOptions(
    program
      .command('verify')
      .description('check, executing nothing, that every program in the jail will load there (libraries, versions, NSS, links)')
      .argument('<jail>')
      .option('--json', 'findings as JSON')
      .option('--against-host', 'also report copies that differ from their host source')
      .option('--symbols', "also check every plugin's undefined symbols (php: pdo_mysql.so needs pdo.so, which no DT_NEEDED says)"),
  ).action(async (jail: string, opts: VerifyCliOptions, cmd: Command) => {
    const { runVerify } = await import('./jail-checks.js');
    setExit(runVerify(jail, opts, makeReporter(cmd.optsWithGlobals())));
  });

  program
    .command('audit')
    .description("check the jail's hardening: setuid files, root accounts, shells, writable dirs, devices, links out")
    .argument('<jail>')
    .option('--json', 'findings as JSON')
    .option('--fail-on <severity>', 'exit 1 when a finding is at or above: low, medium, high', DEFAULTS.failOn)
    .option('--writable <user:/dir,...>', 'directories service users may own and write (repeatable)', collect, [])
    .action(async (jail: string, opts: { json?: boolean; failOn?: string; writable?: string[] }, cmd: Command) => {
      const { runAudit } = await import('./jail-checks.js');
      setExit(runAudit(jail, opts, makeReporter(cmd.optsWithGlobals())));
    });

  program
    .command('unit')
    .description('print a systemd service (or --sysv script) that runs PROGRAM inside the jail')
    .argument('<program>', 'absolute path of the program inside the jail')
    .argument('[args...]', 'its arguments')
    .requiredOption('--jail <dir>', 'the jail')
    .option('--pid-file <path>', 'pid file inside the jail (e.g. /run/nginx.pid)')
    .option('--user <user>', 'run as this user (omit for daemons that drop privileges themselves)')
    .option('--group <group>')
    .option('--description <text>')
    .option('--test <args>', "arguments of a configuration test run before start, e.g. '-t'")
    .option('--reload <args>', "arguments that reload, e.g. '-s reload'")
    .option('--sysv', 'a SysV init script instead')
    .action(async (program_: string, args: string[], opts: UnitCliOptions) => {
      const { runUnit } = await import('./unit.js');
      setExit(runUnit(program_, args, opts));
    });

  program
    .command('trace')
    .description('RUNS the command on the host (this executes it!) under strace or LD_DEBUG and lists what it loads at run time')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--into <jail>', 'copy what it loaded, with closures, into the jail')
    .option('--json', 'the result as JSON')
    .option('--prefix <dir>', 'also report files it opened below DIR (repeatable)', collect, [])
    .option('--timeout <seconds>', 'kill the command, and all it started (daemons too), after this long', String(DEFAULTS.traceTimeoutSeconds))
    .option('--method <m>', 'auto, strace or ld-debug', 'auto')
    .action(async (command: string[], opts: TraceCliOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>();
      const { runTrace } = await import('./trace.js');
      setExit(await runTrace(command, { ...opts, ...(globals.quiet ? { quiet: true } : {}) }, makeReporter(globals)));
    });

  program
    .command('image')
    .description("write the jail as an OCI image: a layout (--oci DIR) or an archive (--tar FILE), one reproducible layer")
    .argument('<jail>')
    .option('--oci <dir>', 'write (or add the tag to) an OCI image layout in DIR')
    .option('--tar <file>', 'write an OCI archive (a tar of the layout; skopeo reads it as oci-archive:FILE)')
    .option('--tag <name[:tag]>', 'the image reference (tag default: latest)')
    .option('--compression <c>', 'the layer: gzip or none', 'gzip')
    .option('--entrypoint <json>', 'the entrypoint as a JSON array, e.g. \'["/usr/sbin/nginx","-g","daemon off;"]\'')
    .option('--cmd <json>', 'the default arguments as a JSON array')
    .option('--user <name>', "run as this user of the jail's /etc/passwd, or UID[:GID] (default: unset, uid 0)")
    .option('--env <k=v>', 'an environment variable (repeatable)', collect, [])
    .option('--workdir <dir>', 'the working directory')
    .option('--expose <port/proto>', 'a port the image listens on (repeatable)', collect, [])
    .option('--label <k=v>', 'a config label (repeatable)', collect, [])
    .option('--sbom <file>', "also write the jail's SBOM to FILE and record its digest in the manifest")
    .option('--sbom-format <f>', 'the SBOM format: cyclonedx (CycloneDX 1.6 JSON)', 'cyclonedx')
    .option('--root <dir>', "describe packages from this root's dpkg database (default: the host's)")
    .option('--json', 'print the result (digests, platform, warnings) as JSON')
    .addHelpText('after', '\nSOURCE_DATE_EPOCH sets created and clamps every mtime (default 0: 1970-01-01T00:00:00Z).\nExit status: 0 written, 2 bad usage or input (nothing is left half-written).')
    .action(async (jail: string, opts: ImageCliOptions, cmd: Command) => {
      const { runImage } = await import('./image.js');
      setExit(await runImage(jail, opts, makeReporter(cmd.optsWithGlobals())));
    });

  program
    .command('sbom')
    .description("describe the jail's files and the Debian packages they came from: CycloneDX 1.6 JSON")
    .argument('<jail>')
    .option('--format <f>', 'cyclonedx (CycloneDX 1.6 JSON)', 'cyclonedx')
    .option('--output <file>', 'write to FILE (default: standard output)')
    .option('--root <dir>', "read packages from this root's dpkg database (default: the host's)")
    .action(async (jail: string, opts: SbomCliOptions, cmd: Command) => {
      const { runSbom } = await import('./sbom.js');
      setExit(await runSbom(jail, opts, makeReporter(cmd.optsWithGlobals())));
    });
  return program;
}

/** Runs elfcopy's command line `argv` (as process.argv) and gives the exit code. */
export async function main(argv: string[]): Promise<number> {
  return runMain(argv, buildProgram);
}

start(buildProgram);
