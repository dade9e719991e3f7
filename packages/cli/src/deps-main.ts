/**
 * The entry of the bundle `elfcopy deps` starts with (scripts/bundle.mjs, bin/elfcopy.cjs): the same
 * program as main.ts with the deps command alone, so a closure's start-up parses no jail-copy code and
 * builds no other command.
 */
import { depsProgram, start } from './program.js';

start(depsProgram, true);
