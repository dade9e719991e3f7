/**
 * `elfcopy deps` describing another machine (--cpuinfo, --cpu-vendor, --platform, --hwcaps), against
 * glibc 2.36's loader running on that machine as QEMU emulates it: a program whose RPATH directory has
 * haswell/ and x86_64/ legacy subdirectories and a glibc-hwcaps/x86-64-v3 one, listed with
 * `ld.so --list` under `qemu-x86_64-static -cpu MODEL`, and with the CLI given that CPU's /proc/cpuinfo.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildExe, buildLib } from './helpers/build-fixtures.js';
import { buildCpuinfoProbe } from './helpers/cpuid-cpuinfo.js';
import { makeTempDir } from './helpers/fixtures.js';
import { hasExecutable } from './helpers/loader-report.js';
import { parseTraceList } from './helpers/test-roots.js';

const CLI = new URL('../../cli/bin/elfcopy.cjs', import.meta.url).pathname;
const QEMU = '/usr/bin/qemu-x86_64-static';
const LD64 = '/lib64/ld-linux-x86-64.so.2';
const tmp = fs.realpathSync(makeTempDir('cli-machine'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function elfcopy(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!hasExecutable(QEMU) || !fs.existsSync(CLI))('elfcopy deps for another CPU, against the loader under that CPU (qemu)', () => {
  const lib = path.join(tmp, 'lib');
  let prog = '';
  let probe = '';
  const setup = (): void => {
    if (prog) return;
    for (const sub of ['', 'haswell', 'x86_64']) buildLib(path.join(lib, sub), 'libp.so');
    for (const sub of ['', 'glibc-hwcaps/x86-64-v3', 'glibc-hwcaps/x86-64-v2']) buildLib(path.join(lib, sub), 'libh.so');
    prog = buildExe(tmp, 'prog', { rpath: lib, needed: ['libp.so', 'libh.so'] });
    probe = buildCpuinfoProbe(tmp);
  };
  const cpuinfoOf = (model: string): string => {
    const file = path.join(tmp, `cpuinfo-${model.replace(/\W+/g, '_')}`);
    fs.writeFileSync(file, execFileSync(QEMU, ['-cpu', model, probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return file;
  };
  const real = (model: string): string[] =>
    parseTraceList(execFileSync(QEMU, ['-cpu', model, LD64, '--list', prog], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
      .paths.filter((p) => p.startsWith(lib))
      .sort();
  const ours = (args: string[]): string[] => {
    const r = elfcopy(['deps', '--list', ...args, prog]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout.split('\n').filter((p) => p.startsWith(lib)).sort();
  };

  it.each(['Haswell', 'EPYC-Rome', 'Haswell,vendor=AuthenticAMD', 'Nehalem', 'Dhyana'])('--cpuinfo of %s: the libraries its loader picks', (model) => {
    setup();
    const expected = real(model);
    expect(expected).toHaveLength(2);
    expect(ours(['--cpuinfo', cpuinfoOf(model)])).toEqual(expected);
  });

  it("--cpu-vendor amd on an Intel Haswell's cpuinfo is that CPU with AMD's vendor string", () => {
    setup();
    const expected = real('Haswell,vendor=AuthenticAMD');
    expect(expected).toContain(path.join(lib, 'x86_64', 'libp.so'));
    expect(ours(['--cpuinfo', cpuinfoOf('Haswell'), '--cpu-vendor', 'amd'])).toEqual(expected);
  });

  it('--platform and --hwcaps replace what the model computed, each on its own', () => {
    setup();
    const intel = cpuinfoOf('Haswell');
    expect(ours(['--cpuinfo', intel])).toEqual([path.join(lib, 'glibc-hwcaps/x86-64-v3/libh.so'), path.join(lib, 'haswell/libp.so')]);
    expect(ours(['--cpuinfo', intel, '--platform', 'x86_64'])).toEqual([path.join(lib, 'glibc-hwcaps/x86-64-v3/libh.so'), path.join(lib, 'x86_64/libp.so')]);
    expect(ours(['--cpuinfo', intel, '--hwcaps', 'x86-64-v2'])).toEqual([path.join(lib, 'glibc-hwcaps/x86-64-v2/libh.so'), path.join(lib, 'haswell/libp.so')]);
    expect(ours(['--cpuinfo', intel, '--hwcaps', 'none', '--cpu-vendor', 'amd'])).toEqual([path.join(lib, 'libh.so'), path.join(lib, 'x86_64/libp.so')]);
  });

  it('bad input: one line naming the option and the reason, exit 2', () => {
    setup();
    const fifo = path.join(tmp, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const text = path.join(tmp, 'not-cpuinfo');
    fs.writeFileSync(text, 'hello\n');
    for (const [args, message] of [
      [['--cpuinfo', path.join(tmp, 'missing')], /^elfcopy: --cpuinfo .*missing: cannot read it \(ENOENT\)$/],
      [['--cpuinfo', fifo], /^elfcopy: --cpuinfo .*fifo: not a regular file$/],
      [['--cpuinfo', text], /^elfcopy: --cpuinfo .*not-cpuinfo: no 'vendor_id' and 'flags' lines/],
      [['--cpu-vendor', 'acme'], /^elfcopy: --cpu-vendor: 'acme' is neither/],
      [['--platform', 'has well'], /^elfcopy: --platform: 'has well' is not a platform name/],
    ] as const) {
      const r = elfcopy(['deps', '--list', ...args, prog]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
});
