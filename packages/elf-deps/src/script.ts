/**
 * What the kernel runs for a script (fs/binfmt_script.c): the interpreter its first line names after
 * "#!", with at most one argument. Read, never run. A jail needs the script, its interpreter and, for
 * `#!/usr/bin/env NAME`, the program env finds as NAME on its PATH.
 */
import * as path from 'node:path';
import { ElfDepsError } from './errors.js';
import type { SysRoot } from './sysroot.js';

/** binfmt_script reads this much of the file (BINPRM_BUF_SIZE): a longer first line is cut there. */
const SHEBANG_BYTES = 256;
/** Scripts in one chain (a script whose interpreter is a script, …), as the kernel runs them: a sixth fails with ELOOP. */
const MAX_SCRIPTS = 5;
/**
 * The PATH env searches for NAME in the jail: systemd's default for a service (a daemon's unit sets no
 * PATH), with /sbin and /bin for a root whose /usr is not merged.
 */
export const SCRIPT_PATH: readonly string[] = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** A script whose interpreter cannot be put in a jail: missing, relative, nested too deep, or env's NAME nowhere on SCRIPT_PATH. */
export class ScriptError extends ElfDepsError {
  override name = 'ScriptError';
}

export interface Shebang {
  /** The first line after "#!", as the kernel reads it (spaces and tabs trimmed at both ends). */
  line: string;
  interpreter: string;
  /** The one argument the kernel passes before the script's path, when the line has one. */
  arg?: string;
}

/** What a script needs in a jail, its interpreters resolved (in-root paths). */
export interface ScriptNeeds {
  /** The script's own line. */
  shebang: Shebang;
  /** Scripts of the chain (this one, and any interpreter that is a script itself), copied as they are. */
  scripts: string[];
  /** The ELF programs of the chain: the interpreter, and for env the program it runs. */
  programs: string[];
}

/** The "#!" line of the file at `p`, or undefined when it has none (not a script). */
export function readShebang(root: SysRoot, p: string): Shebang | undefined {
  const src = root.open(p);
  let bytes: Buffer;
  try {
    // A copy: the view read() gives is of a block close() recycles.
    bytes = Buffer.from(src.read(0, Math.min(src.size, SHEBANG_BYTES), 'script line'));
  } finally {
    src.close();
  }
  if (bytes.length < 2 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return undefined;
  let end = bytes.indexOf(0x0a, 2);
  if (end < 0) end = bytes.length;
  const nul = bytes.indexOf(0, 2);
  if (nul >= 0 && nul < end) end = nul;
  const line = bytes.toString('latin1', 2, end).replace(/^[ \t]+|[ \t]+$/g, '');
  if (line === '') return { line, interpreter: '' };
  const cut = line.search(/[ \t]/);
  if (cut < 0) return { line, interpreter: line };
  const arg = line.slice(cut).replace(/^[ \t]+/, '');
  return { line, interpreter: line.slice(0, cut), ...(arg !== '' ? { arg } : {}) };
}

/**
 * The interpreters the script at `p` needs, or undefined when `p` is not a script. Throws ScriptError
 * when the chain cannot be followed (its message names the script and why).
 */
export function scriptNeeds(root: SysRoot, p: string): ScriptNeeds | undefined {
  const first = readShebang(root, p);
  if (!first) return undefined;
  const needs: ScriptNeeds = { shebang: first, scripts: [p], programs: [] };
  let shebang = first;
  let script = p;
  for (let depth = 1; ; depth++) {
    const interp = shebang.interpreter;
    if (interp === '') throw new ScriptError(script, 'its "#!" line names no interpreter');
    if (!path.posix.isAbsolute(interp)) throw new ScriptError(script, `its interpreter '${interp}' is a relative path: what it names depends on the directory the script is run from`);
    if (!root.stat(interp)?.isFile()) throw new ScriptError(script, `its interpreter ${interp} (#!${shebang.line}) is not a file here`);
    const next = readShebang(root, interp);
    if (!next) {
      needs.programs.push(interp);
      if (path.posix.basename(interp) === 'env' && shebang.arg !== undefined) needs.programs.push(envProgram(root, script, shebang));
      return needs;
    }
    if (depth >= MAX_SCRIPTS) throw new ScriptError(p, `its chain of interpreters holds more than ${MAX_SCRIPTS} scripts (the kernel refuses to run it: ELOOP)`);
    needs.scripts.push(interp);
    script = interp;
    shebang = next;
  }
}

/** The program `#!/usr/bin/env [-S] [NAME=VALUE…] NAME …` runs: NAME itself when it has a slash, else the first on SCRIPT_PATH. */
function envProgram(root: SysRoot, script: string, shebang: Shebang): string {
  const arg = shebang.arg ?? '';
  // Without -S, env receives the whole rest of the line as one word (the kernel passes one argument).
  const words = arg.startsWith('-S') ? arg.slice(2).trim().split(/[ \t]+/) : [arg];
  const name = words.find((w) => w !== '' && !w.startsWith('-') && !w.includes('='));
  if (name === undefined) throw new ScriptError(script, `#!${shebang.line}: env is given no program to run`);
  if (name.includes('/')) {
    if (!path.posix.isAbsolute(name) || !root.stat(name)?.isFile()) throw new ScriptError(script, `#!${shebang.line}: ${name} is not a file here`);
    return name;
  }
  for (const dir of SCRIPT_PATH) {
    const candidate = `${dir}/${name}`;
    const st = root.stat(candidate);
    if (st?.isFile() && (st.mode & 0o111) !== 0) return candidate;
  }
  throw new ScriptError(script, `#!${shebang.line}: env finds no '${name}' on ${SCRIPT_PATH.join(':')} (the PATH a service gets)`);
}
