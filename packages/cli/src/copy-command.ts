/**
 * `elfcopy [copy] PATH... --into JAIL`, the default command: its wiring, shared by the full program
 * (main.ts) and the program a plain copy starts with (copy-main.ts, the bundle bin/elfcopy.cjs picks
 * for it), so the two are one definition and print the same help and errors.
 */
import type { Command } from 'commander';
import type { CopyCliOptions } from './copy.js';
import { DEFAULTS } from '@elfcopy/jail-copy/defaults';
import { makeReporter } from './report.js';
import { checkDirectory, resolverOptions } from './program.js';

export function addCopyCommand(program: Command, setExit: (code: number) => void): Command {
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

  return program;
}
