/**
 * elfcopy's command line: commander wiring only. Each command parses its options, calls one library
 * function and formats the result; errors become one line and an exit code.
 */
import { readFileSync, statSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ElfDepsError } from '@elfcopy/elf-deps';
import type { DepsCliOptions } from './deps.js';
import type { CopyCliOptions } from './copy.js';
import type { VerifyCliOptions } from './jail-checks.js';
import type { InitCliOptions } from './init.js';
import type { TraceCliOptions } from './trace.js';
import type { UnitCliOptions } from './unit.js';
import type { ImageCliOptions } from './image.js';
import type { SbomCliOptions } from './sbom.js';
import { DEFAULTS } from '@elfcopy/jail-copy/defaults';
import { EXIT_BAD_INPUT, EXIT_JAIL_IO, EXIT_SIGPIPE } from './exit-codes.js';
import { escapeName } from './format/escape.js';
import { describeError, describeSystemError, makeReporter } from './report.js';
import { UsageError } from './usage-error.js';

/** The bundle (scripts/bundle.mjs) defines the version at build time; the plain tsc build reads package.json. */
function version(): string {
  const defined = process.env.ELFCOPY_BUNDLED_VERSION;
  if (defined) return defined;
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function resolverOptions(cmd: Command): Command {
  return machineOptions(
    cmd
      .option('--root <dir>', 'sysroot: read every file, config and cache under DIR (absolute links resolve inside it)')
      .option('--ld-library-path <path>', 'search these directories as LD_LIBRARY_PATH would (never read from the environment)'),
  ).option('--ld-so-conf', 'in a root without ld.so.cache, use the cache ldconfig would build from its ld.so.conf (ld.so itself would not)');
}

/** The machine a jail is for: every command that resolves (deps, copy, verify) takes these. */
function machineOptions(cmd: Command): Command {
  return cmd
    .option('--hwcaps <levels>', "glibc-hwcaps levels the target CPU supports, best first, e.g. 'x86-64-v3,x86-64-v2', or 'none' (default: this CPU)")
    .option('--platform <name>', "$PLATFORM and the platform subdirectory of the target's loader, e.g. haswell or x86_64 (default: what glibc computes for the CPU)")
    .option('--cpu-vendor <vendor>', "the target CPU's vendor: intel, amd, hygon, centaur, zhaoxin, other, or a CPUID vendor string (default: this CPU's, or --cpuinfo's)")
    .option('--cpuinfo <file>', "the target machine's /proc/cpuinfo (a copy), instead of this one's; --cpu-vendor, --platform and --hwcaps override what it gives");
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('elfcopy')
    .description('Put a Linux program into a chroot jail with exactly the shared libraries, loader and runtime modules it needs.\nNothing is executed to find them: elfcopy reads the ELF files and follows their loader\'s rules (glibc\'s ld.so or musl\'s).')
    .version(version(), '-V, --version')
    .option('-q, --quiet', 'print only errors')
    .option('-v, --verbose', 'say more about what is done')
    .showHelpAfterError('(run elfcopy --help for usage)')
    .exitOverride()
    // One line, always: commander's own hint joins the line; a control character the user typed is escaped.
    .configureOutput({ outputError: (str, write) => write(`elfcopy: ${escapeName(str.replace(/^error: /, '').replace(/\n\(Did you mean/, ' (Did you mean').replace(/\n$/, ''))}\n`) });

  const deps = resolverOptions(
    program
      .command('deps')
      .description('show the libraries each ELF file loads, found as its loader (glibc or musl) finds them (never runs the file)')
      .argument('<path...>', 'ELF files, directories (every ELF below them) or globs')
      .option('--list', 'print the union closure, one absolute path per line, sorted (for cp, tar, …); control characters and \\ escaped')
      .option('-0, --null', 'with --list: end each path with a NUL and print it raw (for xargs -0, tar --null -T -)')
      .option('--json', 'print the closure graph as JSON (schema elfcopy.deps/1)')
      .option('--dot', 'print the dependency graph for Graphviz')
      .option('--why <soname>', 'print the chain of loaders that brings SONAME (or a path) into the closure')
      .option('-a, --all', 'in the tree, also show libraries already loaded (reused)')
      .option('--dlopen <priority>', 'also follow .note.dlopen down to this priority: required, recommended or suggested'),
  );
  deps.addHelpText(
    'after',
    `
Examples:
  elfcopy deps /usr/sbin/nginx
  elfcopy deps --list /usr/sbin/php-fpm8.2 /usr/lib/php/20220829
  elfcopy deps --why libcrypto.so.3 /usr/sbin/nginx
  elfcopy deps --root /srv/jail --json /usr/sbin/nginx

Exit status: 0 closure complete, 1 a library is missing, 2 bad usage or input.`,
  );
  const copy = resolverOptions(
    program
      .command('copy', { isDefault: true })
      .description('copy programs and everything they load into a jail (the default command: elfcopy PATH... --into JAIL)')
      .argument('<path...>', 'ELF files, directories (every ELF below them) or globs')
      .option('--into <jail>', 'the jail directory (its last component is created if missing, as cp does; never /)')
      .option('--dry-run', 'print the plan (every mkdir, copy and link with its reason) and change nothing')
      .option('--json', 'print the plan (with --dry-run) or the result as JSON')
      .option('--no-nss', 'do not bring the NSS modules nsswitch.conf names')
      .option('--nsswitch <file>', "nsswitch.conf to follow (default: the jail's own, else glibc's built-in defaults, as glibc in the jail)")
      .option('--with <profiles>', 'runtime file profiles (default: auto; none for the bare closure): auto, none, NAME, +NAME (to auto), -NAME (not from auto), NAME:KEY=VALUE+VALUE (parameters, e.g. +locale:de_DE.UTF-8, +python:packages=requests, shell:term=xterm); see README')
      .option('--gconv-charsets <list>', 'the same as --with +gconv:charsets=LIST (only the modules for these charsets, e.g. ISO-8859-1,UTF-16)')
      .option('--dlopen <priority>', 'follow .note.dlopen down to this priority: required (the default), recommended, suggested, or none')
      .option('--trace <command>', 'also run COMMAND on the host (it is executed!) and bring what it loads')
      .option('--ldcache', "write the jail's own /etc/ld.so.cache (needed when libraries live outside the system directories)")
      .option('--prune', 'remove what an earlier run of these same inputs installed, this run no longer needs and no other installer (init, another copy) claims')
      .option('--checksum', 'decide "up to date" by sha256 instead of size and mtime')
      .option('--jobs <n>', 'parallel copies', String(DEFAULTS.jobs))
      .option('--relative-links', 'rewrite absolute symlink targets as relative ones')
      .option('--keep-setuid', 'keep setuid/setgid bits (stripped by default)'),
  );
  copy.addHelpText(
    'after',
    `
Examples:
  elfcopy /usr/sbin/nginx --into /srv/jail
  elfcopy /usr/sbin/php-fpm8.2 /usr/lib/php/20220829 --into /srv/jail
  elfcopy /usr/bin/python3 --into /srv/jail --with +python:packages=requests+idna,+locale:de_DE.UTF-8
  elfcopy /usr/bin/ls --into /srv/jail --with none
  elfcopy /usr/sbin/nginx --into /srv/jail --dry-run

Exit status: 0 done, 1 a library is missing (the rest is copied), 2 bad usage or input.`,
  );
  copy.action(async (paths: string[], opts: CopyCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>();
    if (opts.root !== undefined) checkDirectory(opts.root, '--root');
    const { runCopy } = await import('./copy.js');
    setExit(await runCopy(paths, { ...opts, ...(globals.quiet ? { quiet: true } : {}) }, makeReporter(globals)));
  });

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

  deps.action(async (paths: string[], opts: DepsCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>();
    const picked = [opts.list, opts.json, opts.dot, opts.why !== undefined].filter(Boolean).length;
    if (picked > 1) throw new UsageError('choose one of --list, --json, --dot, --why');
    if (opts.root !== undefined) checkDirectory(opts.root, '--root');
    const { runDeps } = await import('./deps.js');
    setExit(runDeps(paths, opts, makeReporter(globals)));
  });
  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function checkDirectory(dir: string, option: string): void {
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError(`${option} ${dir}: not a directory`);
}

/**
 * A reader that stops early (`| head`, `| jq -e`) closes the pipe: stop at once and quietly, with the
 * status a program killed by SIGPIPE has (Node ignores the signal, so the write fails with EPIPE, which
 * an unwatched stream throws from the event loop). Output is written after the work, so nothing is left
 * half-done. Watched at the process level so that no output stream is made before it is needed.
 */
function endQuietlyOnClosedPipe(): void {
  process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_SIGPIPE);
    process.stderr.write(`elfcopy: internal error: ${escapeName(String(err))} (this is a bug in elfcopy; ELFCOPY_DEBUG=1 shows the stack)\n`);
    if (process.env.ELFCOPY_DEBUG) process.stderr.write(`${String(err.stack)}\n`);
    process.exit(70);
  });
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  let code = 0;
  const program = buildProgram((c) => (code = c));
  const report = makeReporter({});
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    // An errno error no typed error caught: a file-system condition, not an internal error (report.ts).
    const system = describeSystemError(err);
    if (system) {
      report.error(system.line);
      return system.code;
    }
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_BAD_INPUT;
    }
    if (err instanceof UsageError) {
      report.error(err.message);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof ElfDepsError) {
      report.error(describeError(err));
      // By name: jail-copy loads only when a command needs it.
      return err.name === 'JailIoError' ? EXIT_JAIL_IO : EXIT_BAD_INPUT;
    }
    if (process.env.ELFCOPY_DEBUG) throw err;
    report.error(`internal error: ${describeError(err)} (this is a bug in elfcopy; ELFCOPY_DEBUG=1 shows the stack)`);
    return 70;
  }
}


main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`elfcopy: internal error: ${escapeName(String(err))}\n`);
    process.exitCode = 70;
  },
);
