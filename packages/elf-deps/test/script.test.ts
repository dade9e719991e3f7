/**
 * readShebang against the kernel itself (fs/binfmt_script.c): each script's interpreter is a small
 * program that prints the argv the kernel gave it, and the script is run directly. What readShebang
 * reads from the "#!" line must be exactly the interpreter and the one argument the kernel passed.
 * scriptNeeds: the interpreter chain and, for env, the program found on SCRIPT_PATH.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCRIPT_PATH, ScriptError, SysRoot, readShebang, scriptNeeds } from '../src/index.js';
import { useTempDirs } from './helpers/temp-dirs.js';

const tempDir = useTempDirs();
let dir = '';
let printer = '';
beforeAll(() => {
  dir = tempDir('elfcopy-script-');
  printer = path.join(dir, 'print-argv');
  fs.writeFileSync(`${printer}.c`, '#include <stdio.h>\nint main(int c, char **v) { for (int i = 0; i < c; i++) printf("%s\\n", v[i]); return 0; }\n');
  execFileSync('gcc', ['-o', printer, `${printer}.c`]);
});

function script(name: string, firstLine: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${firstLine}\nbody\n`, { mode: 0o755 });
  return p;
}

/** What the kernel passed the interpreter: argv[0] (the interpreter), then the argument if any; the script path last. */
function kernelArgv(p: string): { interpreter: string; arg?: string } {
  const lines = execFileSync(p, { encoding: 'utf8' }).split('\n').slice(0, -1);
  expect(lines[lines.length - 1]).toBe(p);
  const [interpreter = '', ...rest] = lines.slice(0, -1);
  return rest.length === 0 ? { interpreter } : { interpreter, arg: rest.join('\n') };
}

describe('readShebang reads the line as the kernel does', () => {
  const cases: [string, (printer: string) => string][] = [
    ['no argument', (i) => `#!${i}`],
    ['one argument', (i) => `#!${i} -x`],
    ['spaces and tabs around, and inside the argument', (i) => `#! \t${i} \t -x  -y\t `],
    ['a carriage return is part of the argument', (i) => `#!${i} -x\r`],
  ];
  for (const [what, line] of cases) {
    it(what, () => {
      const p = script(what.replace(/\W+/g, '-'), line(printer));
      const ours = readShebang(new SysRoot('/'), p);
      const kernel = kernelArgv(p);
      expect(ours && { interpreter: ours.interpreter, ...(ours.arg !== undefined ? { arg: ours.arg } : {}) }).toEqual(kernel);
    });
  }

  it('an ELF file and a text file without "#!" are no scripts', () => {
    const root = new SysRoot('/');
    expect(readShebang(root, printer)).toBeUndefined();
    const text = path.join(dir, 'text');
    fs.writeFileSync(text, 'hello\n');
    expect(readShebang(root, text)).toBeUndefined();
  });
});

describe('scriptNeeds', () => {
  it("SCRIPT_PATH is the PATH systemd gives a service (systemd-path's own answer)", () => {
    expect(SCRIPT_PATH.join(':')).toBe(execFileSync('systemd-path', ['search-binaries-default'], { encoding: 'utf8' }).trim());
  });

  it('#!/usr/bin/env NAME: env, and the NAME env itself runs under that PATH', () => {
    const p = script('env-sh', '#!/usr/bin/env sh');
    const servicePath = execFileSync('systemd-path', ['search-binaries-default'], { encoding: 'utf8' }).trim();
    // What env executes, seen from inside: the shell's own executable.
    const envRuns = execFileSync('/usr/bin/env', ['-i', `PATH=${servicePath}`, 'sh', '-c', 'readlink /proc/$$/exe'], { encoding: 'utf8' }).trim();
    const programs = scriptNeeds(new SysRoot('/'), p)?.programs ?? [];
    expect(programs[0]).toBe('/usr/bin/env');
    expect(fs.realpathSync(programs[1] ?? '')).toBe(envRuns);
  });

  it('env -S splits the rest of the line; options and assignments are not the program', () => {
    const p = script('env-split', '#!/usr/bin/env -S LC_ALL=C -i sh -e');
    expect(scriptNeeds(new SysRoot('/'), p)?.programs[1]).toMatch(/\/sh$/);
  });

  it('an interpreter that is a script is followed, and copied as a script', () => {
    const inner = script('inner', `#!${printer}`);
    const outer = script('outer', `#!${inner}`);
    const needs = scriptNeeds(new SysRoot('/'), outer);
    expect(needs).toMatchObject({ scripts: [outer, inner], programs: [printer] });
    // The kernel agrees: the printer runs, given the inner script and then the outer one.
    expect(execFileSync(outer, { encoding: 'utf8' }).split('\n').slice(0, -1)).toEqual([printer, inner, outer]);
  });

  it('chains of scripts: followed as far as the kernel runs them, refused where it refuses', () => {
    const root = new SysRoot('/');
    const chain = [script('s1', `#!${printer}`)];
    for (let i = 2; i <= 7; i++) chain.push(script(`s${i}`, `#!${chain[chain.length - 1] ?? ''}`));
    for (const s of chain) {
      let kernelRuns = true;
      try {
        execFileSync(s, { stdio: 'pipe' });
      } catch {
        kernelRuns = false;
      }
      let oursFollows = true;
      try {
        scriptNeeds(root, s);
      } catch (err) {
        expect(err).toBeInstanceOf(ScriptError);
        oursFollows = false;
      }
      expect(oursFollows, s).toBe(kernelRuns);
    }
    // Both sides of the limit are met.
    expect(() => scriptNeeds(root, chain[0] ?? '')).not.toThrow();
    expect(() => scriptNeeds(root, chain[6] ?? '')).toThrow(ScriptError);
  });

  it('a missing, relative or empty interpreter, or env finding nothing, is a ScriptError naming the script', () => {
    const root = new SysRoot('/');
    for (const [name, line, why] of [
      ['missing', '#!/nonexistent/interp', 'is not a file here'],
      ['relative', '#!interp', 'is a relative path'],
      ['empty', '#!', 'names no interpreter'],
      ['env-nothing-found', '#!/usr/bin/env no-such-program-anywhere', "env finds no 'no-such-program-anywhere'"],
    ] as const) {
      const p = script(name, line);
      let err: unknown;
      try {
        scriptNeeds(root, p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ScriptError);
      expect((err as ScriptError).path).toBe(p);
      expect((err as ScriptError).message).toContain(why);
    }
  });
});
