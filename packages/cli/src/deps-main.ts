/**
 * The entry of the bundle `elfcopy deps` starts with (scripts/bundle.mjs, bin/elfcopy.cjs): the same
 * program as main.ts with the deps command alone, so a closure's start-up parses no jail-copy code and
 * builds no other command.
 */
import { depsProgram, runMain, start } from './program.js';

/** Runs the deps program on `argv` (as process.argv) and gives the exit code (scripts/code-cache.cjs warms the bundle's cache with it). */
export async function main(argv: string[]): Promise<number> {
  return runMain(argv, depsProgram);
}

start(depsProgram, true);
