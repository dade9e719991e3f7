/**
 * What every elfcopy command line shares: the program's own options, the resolver and machine options,
 * the `deps` command, and the run that turns errors into one line and an exit code. main.ts adds the
 * other commands; deps-main.ts (the bundle `elfcopy deps` starts with) adds none, so the one command
 * that must start fast loads neither jail-copy nor the other commands (scripts/bundle.mjs).
 */
import { readFileSync, statSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ElfDepsError } from '@elfcopy/elf-deps';
import type { DepsCliOptions } from './deps.js';
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

export function resolverOptions(cmd: Command): Command {
  return machineOptions(
    cmd
      .option('--root <dir>', 'sysroot: read every file, config and cache under DIR (absolute links resolve inside it)')
      .option('--ld-library-path <path>', 'search these directories as LD_LIBRARY_PATH would (never read from the environment)'),
  ).option('--ld-so-conf', 'in a root without ld.so.cache, use the cache ldconfig would build from its ld.so.conf (ld.so itself would not)');
}

/** The machine a jail is for: every command that resolves (deps, copy, verify) takes these. */
export function machineOptions(cmd: Command): Command {
  return cmd
    .option('--hwcaps <levels>', "glibc-hwcaps levels the target CPU supports, best first, e.g. 'x86-64-v3,x86-64-v2', or 'none' (default: this CPU)")
    .option('--platform <name>', "$PLATFORM and the platform subdirectory of the target's loader, e.g. haswell or x86_64 (default: what glibc computes for the CPU)")
    .option('--cpu-vendor <vendor>', "the target CPU's vendor: intel, amd, hygon, centaur, zhaoxin, other, or a CPUID vendor string (default: this CPU's, or --cpuinfo's)")
    .option('--cpuinfo <file>', "the target machine's /proc/cpuinfo (a copy), instead of this one's; --cpu-vendor, --platform and --hwcaps override what it gives");
}

/** The program with its own options (-V, -q, -v) and error output, and no command yet. */
export function baseProgram(): Command {
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
  return program;
}

/** `elfcopy deps`: the first command of every program, the one the deps bundle has alone. */
export function addDepsCommand(program: Command, setExit: (code: number) => void): Command {
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

/** The program `elfcopy deps` runs as (deps-main.ts): the same wiring, the deps command only. */
export function depsProgram(setExit: (code: number) => void): Command {
  return addDepsCommand(baseProgram(), setExit);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function checkDirectory(dir: string, option: string): void {
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

export async function runMain(argv: string[], build: (setExit: (code: number) => void) => Command): Promise<number> {
  endQuietlyOnClosedPipe();
  let code = 0;
  const program = build((c) => (code = c));
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

/**
 * Runs the command line `build` makes, with process.argv, and sets the exit code. `exitWhenDone`: end
 * the process as soon as the command is done, without the heap's teardown (~1.5 ms after a closure);
 * only for a program whose every write is synchronous (deps: output.ts, and stderr, which Node writes
 * synchronously on Linux to files, pipes and terminals) and that leaves nothing running.
 */
export function start(build: (setExit: (code: number) => void) => Command, exitWhenDone = false): void {
  runMain(process.argv, build).then(
    (code) => {
      process.exitCode = code;
      if (exitWhenDone) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`elfcopy: internal error: ${escapeName(String(err))}\n`);
      process.exitCode = 70;
    },
  );
}
