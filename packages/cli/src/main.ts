/**
 * elfcopy's command line: commander wiring only. Each command parses its options, calls one library
 * function and formats the result; errors become one line and an exit code.
 */
import { readFileSync, statSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ElfDepsError, PathResolutionError } from '@elfcopy/elf-deps';
import { runDeps, type DepsCliOptions } from './deps.js';
import { EXIT_BAD_INPUT } from './exit-codes.js';
import { describeError, makeReporter } from './report.js';
import { UsageError } from './usage-error.js';

/** The bundle (scripts/bundle.mjs) defines the version at build time; the plain tsc build reads package.json. */
function version(): string {
  const defined = process.env.ELFCOPY_BUNDLED_VERSION;
  if (defined) return defined;
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

function resolverOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'sysroot: read every file, config and cache under DIR (absolute links resolve inside it)')
    .option('--ld-library-path <path>', 'search these directories as LD_LIBRARY_PATH would (never read from the environment)')
    .option('--hwcaps <levels>', "glibc-hwcaps levels the target CPU supports, best first, e.g. 'x86-64-v3,x86-64-v2', or 'none' (default: this CPU)");
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('elfcopy')
    .description('Put a Linux program into a chroot jail with exactly the shared libraries, loader and runtime modules it needs.\nNothing is executed to find them: elfcopy reads the ELF files and follows glibc ld.so\'s rules.')
    .version(version(), '-V, --version')
    .option('-q, --quiet', 'print only errors')
    .option('-v, --verbose', 'say more about what is done')
    .showHelpAfterError('(run elfcopy --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`elfcopy: ${str.replace(/^error: /, '')}`) });

  const deps = resolverOptions(
    program
      .command('deps')
      .description('show the libraries each ELF file loads, found as glibc ld.so finds them (never runs the file)')
      .argument('<path...>', 'ELF files, directories (every ELF below them) or globs')
      .option('--list', 'print the union closure, one absolute path per line, sorted (for cp, tar, …)')
      .option('--json', 'print the closure graph as JSON (schema elfcopy.deps/1)')
      .option('--dot', 'print the dependency graph for Graphviz')
      .option('--why <soname>', 'print the chain of loaders that brings SONAME (or a path) into the closure')
      .option('-a, --all', 'in the tree, also show libraries already loaded (reused)'),
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
  deps.action((paths: string[], opts: DepsCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>();
    const picked = [opts.list, opts.json, opts.dot, opts.why !== undefined].filter(Boolean).length;
    if (picked > 1) throw new UsageError('choose one of --list, --json, --dot, --why');
    if (opts.root !== undefined) checkDirectory(opts.root, '--root');
    setExit(runDeps(paths, opts, makeReporter(globals)));
  });
  return program;
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

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  const report = makeReporter({});
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_BAD_INPUT;
    }
    if (err instanceof UsageError) {
      report.error(err.message);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof ElfDepsError || err instanceof PathResolutionError) {
      report.error(describeError(err));
      return EXIT_BAD_INPUT;
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
    process.stderr.write(`elfcopy: internal error: ${String(err)}\n`);
    process.exitCode = 70;
  },
);
