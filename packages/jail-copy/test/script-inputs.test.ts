/**
 * A script as an input (`elfcopy SCRIPT --into J`): the script is copied as it is, and what its "#!"
 * line runs (the interpreter, for `#!/usr/bin/env NAME` env and NAME, an interpreter that is a script
 * itself) joins the closure, with that interpreter's profiles. The oracle is the kernel: `chroot J
 * SCRIPT` runs it. Before, a script was "not an ELF file" (exit 2), and with `--with auto` the jail got
 * its package's files but no interpreter.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy, errorLines, readManifest, requireRoot, tempDir } from './helpers/jail.js';

const tmp = tempDir('script-inputs');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => requireRoot());

function script(name: string, text: string): string {
  const p = path.join(tmp, 'scripts', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode: 0o755 });
  return p;
}

function inJail(jail: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('chroot', [jail, ...argv], { encoding: 'utf8', env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a script as an input', () => {
  it('#!/bin/sh: the script and sh arrive, and it runs in the jail', async () => {
    const s = script('hello.sh', '#!/bin/sh\necho "hello $1"\n');
    const jail = path.join(tmp, 'sh');
    const r = await elfcopy([s, '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(inJail(jail, [s, 'jail'])).toEqual({ status: 0, stdout: 'hello jail\n', stderr: '' });
    const entry = readManifest(jail).entries.find((e) => e.path === s);
    expect(entry?.reasons).toContain('input');
  });

  it('#!/usr/bin/env bash: env and the bash it finds on the service PATH', async () => {
    const s = script('env-bash', '#!/usr/bin/env bash\necho "bash $BASH_VERSION"\n');
    const jail = path.join(tmp, 'env-bash');
    const r = await elfcopy([s, '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    const run = inJail(jail, [s]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^bash \d+\.\d+/);
  });

  it('a python script: python3 with its standard library (the python profile), C modules included', async () => {
    const s = script('tool.py', '#!/usr/bin/python3\nimport json, mmap, hashlib\nprint(json.dumps({"ok": hashlib.sha256(b"").hexdigest()[:8]}))\n');
    const jail = path.join(tmp, 'python');
    const r = await elfcopy([s, '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(inJail(jail, [s])).toEqual({ status: 0, stdout: '{"ok": "e3b0c442"}\n', stderr: '' });
  });

  it('a script whose interpreter is a script: both copied, the chain runs', async () => {
    const inner = script('inner', '#!/bin/sh\necho "inner got: $*"\n');
    const outer = script('outer', `#!${inner}\n`);
    const jail = path.join(tmp, 'nested');
    const r = await elfcopy([outer, '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(inJail(jail, [outer])).toEqual({ status: 0, stdout: `inner got: ${outer}\n`, stderr: '' });
  });

  it('beside an ELF program: both in one jail, one run', async () => {
    const s = script('beside.sh', '#!/bin/sh\nexec /usr/bin/true\n');
    const jail = path.join(tmp, 'beside');
    const r = await elfcopy([s, '/usr/bin/true', '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(inJail(jail, [s]).status).toBe(0);
  });

  it('an interpreter that cannot be put in the jail: one line naming the script and why, exit 2, no jail made', async () => {
    for (const [name, text, why] of [
      ['missing', '#!/nonexistent/interp\n', 'its interpreter /nonexistent/interp (#!/nonexistent/interp) is not a file here'],
      ['relative', '#!sh\n', "its interpreter 'sh' is a relative path"],
      ['env-missing', '#!/usr/bin/env no-such-program-here\n', "env finds no 'no-such-program-here'"],
    ] as const) {
      const s = script(name, text);
      const jail = path.join(tmp, `bad-${name}`);
      const r = await elfcopy([s, '--into', jail, '-q']);
      expect(r.exitCode).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`elfcopy: ${s}: `);
      expect(lines[0]).toContain(why);
      expect(fs.existsSync(jail)).toBe(false);
    }
  });

  it('verify checks what an input script runs: complete as copied; with bash removed, a finding, as chroot fails too', async () => {
    const s = script('verify-env-bash', '#!/usr/bin/env bash\necho ok\n');
    const jail = path.join(tmp, 'verify');
    expect((await elfcopy([s, '--into', jail, '-q'])).exitCode).toBe(0);
    const fine = await elfcopy(['verify', jail]);
    expect(fine.exitCode, fine.stdout + fine.stderr).toBe(0);
    expect(inJail(jail, [s]).status).toBe(0);
    for (const name of fs.readdirSync(path.join(jail, 'usr/bin')).filter((n) => n === 'bash')) fs.rmSync(path.join(jail, 'usr/bin', name));
    expect(inJail(jail, [s]).status).not.toBe(0);
    const broken = await elfcopy(['verify', jail]);
    expect(broken.exitCode).toBe(1);
    expect(broken.stdout).toMatch(new RegExp(`script-interpreter-missing: ${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: #!/usr/bin/env bash: env finds no 'bash'`));
  });

  it('a text file that is no script is still "not an ELF file"', async () => {
    const f = script('notes.txt', 'just text\n');
    const r = await elfcopy([f, '--into', path.join(tmp, 'text'), '-q']);
    expect(r.exitCode).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`elfcopy: ${f}: not an ELF file (no ELF magic)`]);
  });
});
