/**
 * `elfcopy trace --into JAIL -- CMD`: what CMD loaded at run time (a dlopen no DT_NEEDED names) and the
 * files it opened below --prefix land in the jail, with their closures. Oracle: `chroot JAIL CMD`, which
 * fails before (the dlopen finds nothing) and prints the file's text and the dlopened function's result
 * after; the manifest records why each came. A bad --into is refused before CMD runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcc, readManifest, requireRoot, tempDir } from '../../jail-copy/test/helpers/jail.js';
import { elfcopy } from './helpers.js';

const tmp = tempDir('trace-into');
const prog = path.join(tmp, 'dlopen-m');
const data = path.join(tmp, 'data');
const greeting = path.join(data, 'greeting');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  requireRoot();
  fs.mkdirSync(data);
  fs.writeFileSync(greeting, 'hello from the data file\n');
  // libm only by dlopen: a plain copy of the program does not bring it; a trace sees it loaded.
  gcc(
    prog,
    `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *m = dlopen("libm.so.6", RTLD_NOW);
  if (!m) { fprintf(stderr, "dlopen: %s\\n", dlerror()); return 3; }
  double (*cosine)(double) = (double (*)(double))dlsym(m, "cos");
  FILE *f = argc > 1 ? fopen(argv[1], "r") : NULL;
  char line[128] = "";
  if (f && fgets(line, sizeof line, f)) fputs(line, stdout);
  if (f) fclose(f);
  printf("cos(0)=%.1f\\n", cosine ? cosine(0.0) : -1.0);
  return 0;
}
`,
    ['-ldl'],
  );
});

describe('elfcopy trace --into', () => {
  it('copies what the command dlopened and the files it opened below --prefix; chroot JAIL CMD then runs', async () => {
    const jail = path.join(tmp, 'jail');
    const copy = await elfcopy([prog, '--into', jail, '-q']);
    expect(copy.exitCode, copy.stderr).toBe(0);
    const before = spawnSync('chroot', [jail, prog, greeting], { encoding: 'utf8' });
    expect(before.status, before.stderr).toBe(3);

    const r = await elfcopy(['trace', '--into', jail, '--prefix', data, '--', prog, greeting], { timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^elfcopy: \d+ files copied \([\d.]+ MiB\), \d+ links made, \d+ directories created, \d+ unchanged$/m);
    const after = spawnSync('chroot', [jail, prog, greeting], { encoding: 'utf8' });
    expect({ status: after.status, stdout: after.stdout }, after.stderr).toEqual({ status: 0, stdout: 'hello from the data file\ncos(0)=1.0\n' });

    const entries = readManifest(jail).entries;
    expect(entries.find((e) => e.path === greeting)?.reasons).toEqual([`opened at run time by ${prog}`]);
    const libm = entries.find((e) => /\/libm\.so\.6$/.test(e.path) && e.kind === 'file') ?? entries.find((e) => /\/libm\.so\.6$/.test(e.path));
    expect(libm, JSON.stringify(entries.map((e) => e.path))).toBeDefined();
  });

  it('a second run over the unchanged jail copies nothing', async () => {
    const jail = path.join(tmp, 'jail');
    const r = await elfcopy(['trace', '--into', jail, '--prefix', data, '--', prog, greeting], { timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^elfcopy: 0 files copied \(0\.0 MiB\), 0 links made, 0 directories created, \d+ unchanged$/m);
  });

  it('an --into whose parent does not exist exits 2 with one line, and the command never runs', async () => {
    const marker = path.join(tmp, 'ran');
    const r = await elfcopy(['trace', '--into', path.join(tmp, 'no', 'such', 'jail'), '--', '/usr/bin/touch', marker]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/no\/such\/jail: its parent directory .* does not exist/)]);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
