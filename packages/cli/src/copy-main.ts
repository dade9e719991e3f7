/**
 * The entry of the bundle a plain copy starts with (`elfcopy PATH... --into JAIL`; scripts/bundle.mjs,
 * bin/elfcopy.cjs): the same program as main.ts with the copy command alone, so a copy's start-up
 * neither builds the other seven commands nor reads and deserializes their code (image, sbom, init,
 * verify, audit, unit, trace). The bin sends here only command lines on which the two programs act the
 * same: the first argument neither an option nor a command's name, no help asked for (commander's help
 * from a default command is the whole program's).
 */
import type { Command } from 'commander';
import { addCopyCommand } from './copy-command.js';
import { baseProgram, runMain, start } from './program.js';

export function copyProgram(setExit: (code: number) => void): Command {
  return addCopyCommand(baseProgram(), setExit);
}

/** Runs the copy program on `argv` (as process.argv) and gives the exit code (scripts/code-cache.cjs warms the bundle's cache with it). */
export async function main(argv: string[]): Promise<number> {
  return runMain(argv, copyProgram);
}

start(copyProgram);
