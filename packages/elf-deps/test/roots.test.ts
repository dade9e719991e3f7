/**
 * The resolver on real foreign roots, each root's own loader the oracle (roots built by
 * scripts/test-roots.sh): every ELF program in the root's /usr/bin and /usr/sbin, resolved with
 * `--root`, against `chroot ROOT ldd PROG` (Debian 13: glibc 2.41 on this x86-64 host) and against the
 * root's loader under qemu-user (`chroot ROOT /qemu-ARCH-static LOADER --list PROG`: arm64, and
 * big-endian s390x). The lists must be equal, path for path, as the loader prints them. Under qemu the
 * CPU is qemu's: lists are compared, not platform directories.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ElfFile, Resolver, SysRoot, type ElfInfo } from '../src/internal.js';
import { parseTraceList, runLoader, inRoot, testRootOrSkip, type TestRoot, type TraceList } from './helpers/test-roots.js';

const CLI = new URL('../../cli/bin/elfcopy.cjs', import.meta.url).pathname;
const summary: string[] = [];
afterAll(() => {
  if (summary.length) console.log(`root agreement (elfcopy deps --root R vs R's own loader):\n  ${summary.join('\n  ')}`);
});

/** Every regular ELF file in the root's /usr/bin and /usr/sbin (in-root paths), with its header. */
function programsOf(root: SysRoot): { path: string; info: ElfInfo }[] {
  const out: { path: string; info: ElfInfo }[] = [];
  for (const dir of ['/usr/bin', '/usr/sbin']) {
    for (const name of [...(root.listDir(dir) ?? [])].sort()) {
      const p = `${dir}/${name}`;
      if (!root.lstat(p)?.isFile()) continue;
      const src = root.open(p);
      try {
        if (src.size < 4 || src.read(0, 4, 'magic').toString('latin1') !== '\x7fELF') continue;
        out.push({ path: p, info: ElfFile.from(src).info });
      } finally {
        src.close();
      }
    }
  }
  return out;
}

function oracleFor(root: TestRoot, prog: string): TraceList {
  const r = root.qemu ? runLoader(root, ['--list', prog]) : inRoot(root, ['/usr/bin/ldd', prog]);
  return parseTraceList(r.stdout + r.stderr);
}

interface Comparison {
  programs: number;
  dynamic: number;
  equal: number;
  mismatches: string[];
  /** Union of every program's list, as the oracle printed it, with the programs themselves. */
  union: Set<string>;
}

function compareRoot(root: TestRoot): Comparison {
  const sysroot = new SysRoot(root.dir);
  const programs = programsOf(sysroot);
  // ldd and `ld.so --list` run the program as `ld.so PROG`: its $ORIGIN rule (BZ 25263) is theirs.
  const resolver = new Resolver({ root: sysroot, detail: 'objects', invocation: 'ld.so' });
  const out: Comparison = { programs: programs.length, dynamic: 0, equal: 0, mismatches: [], union: new Set() };
  for (const { path: prog, info } of programs) {
    const oracle = oracleFor(root, prog);
    const graph = resolver.resolve([prog]);
    const rc = graph.roots[0];
    out.union.add(prog);
    if (!rc) {
      out.mismatches.push(`${prog}: not analysed: ${graph.inputErrors.map((e) => e.message).join('; ')}`);
      continue;
    }
    if (!info.dynamic || info.kind === 'static-pie' || info.kind === 'static-executable') {
      if (oracle.notDynamic && rc.objects.length === 1) out.equal++;
      else out.mismatches.push(`${prog}: static to one side only (loader: ${oracle.notDynamic ? 'not dynamic' : oracle.paths.join(' ')}; ours: ${rc.objects.join(' ')})`);
      continue;
    }
    out.dynamic++;
    for (const p of oracle.paths) out.union.add(p);
    const ours = rc.objects.filter((p) => p !== prog);
    const theirs = oracle.paths;
    const missingOurs = rc.missing.map((m) => m.name).sort();
    const missingTheirs = [...oracle.missing].sort();
    const sameSet = ours.length === theirs.length && [...ours].sort().join('\n') === [...theirs].sort().join('\n');
    if (sameSet && missingOurs.join('\n') === missingTheirs.join('\n')) out.equal++;
    else {
      const onlyOurs = ours.filter((p) => !theirs.includes(p));
      const onlyTheirs = theirs.filter((p) => !ours.includes(p));
      out.mismatches.push(`${prog}: only ours [${onlyOurs.join(' ')}], only the loader's [${onlyTheirs.join(' ')}], missing ours [${missingOurs.join(' ')}] vs [${missingTheirs.join(' ')}]`);
    }
  }
  return out;
}

function cliList(root: TestRoot, programs: string[]): { status: number | null; lines: string[]; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'deps', '--list', '--root', root.dir, ...programs], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, lines: r.stdout.split('\n').filter(Boolean), stderr: r.stderr };
}

for (const [name, oracle] of [
  ['trixie-amd64', 'chroot R ldd'],
  ['bookworm-arm64', 'chroot R /qemu-aarch64-static /lib/ld-linux-aarch64.so.1 --list'],
  ['bookworm-s390x', 'chroot R /qemu-s390x-static /lib/ld64.so.1 --list (big-endian)'],
  ['bookworm-armhf', 'chroot R /qemu-arm-static /lib/ld-linux-armhf.so.3 --list'],
  ['bookworm-ppc64el', 'chroot R /qemu-ppc64le-static /lib64/ld64.so.2 --list'],
  ['trixie-riscv64', 'chroot R /qemu-riscv64-static /lib/ld-linux-riscv64-lp64d.so.1 --list'],
] as const) {
  const root = testRootOrSkip(name);
  describe.skipIf(!root)(`${name}: every ELF program in /usr/bin and /usr/sbin, against ${oracle}`, () => {
    let cmp: Comparison | undefined;
    const comparison = (): Comparison => (cmp ??= root ? compareRoot(root) : { programs: 0, dynamic: 0, equal: 0, mismatches: [], union: new Set() });

    it('the resolver with --root lists exactly what the root\'s loader loads, for every program', () => {
      const c = comparison();
      summary.push(`${name}: ${c.equal}/${c.programs} programs identical (${c.dynamic} dynamic) against ${oracle}`);
      expect(c.programs).toBeGreaterThan(name.includes('amd64') || name.includes('arm64') || name.includes('s390x') ? 100 : 20);
      expect(c.mismatches).toEqual([]);
      expect(c.equal).toBe(c.programs);
    });

    it.skipIf(!fs.existsSync(CLI))('`elfcopy deps --list --root R` over all of them prints the union of those lists', () => {
      if (!root) return;
      const c = comparison();
      const progs = programsOf(new SysRoot(root.dir)).map((p) => p.path);
      const r = cliList(root, progs);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.lines).toEqual([...c.union].sort());
    });

    it("the root's glibc version is read from its files as its loader reports it (--version)", async () => {
      if (!root) return;
      const { readGlibcRelease } = await import('../src/internal.js');
      // (--list-diagnostics would say it too, but 2.36's armhf loader asserts on a format in it.)
      const version = runLoader(root, ['--version']).stdout;
      const m = /^ld\.so .* release version (\d+)\.(\d+)\.?$/m.exec(version);
      expect(m).not.toBeNull();
      const reading = readGlibcRelease(new SysRoot(root.dir), [root.loader]);
      expect(reading.release).toEqual({ major: Number(m?.[1]), minor: Number(m?.[2]) });
      expect(path.posix.isAbsolute(reading.from ?? '')).toBe(true);
    });
  });
}
