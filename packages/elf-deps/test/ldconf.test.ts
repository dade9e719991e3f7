/**
 * ld.so.conf against the real ldconfig: `ldconfig -v -N -X` prints every directory it will scan with
 * the file and line that named it, which is exactly what readLdConf returns; and a cache ldconfig
 * writes (-C FILE) is what buildCacheFromLdConf predicts. Fixtures live in temp directories.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EM_X86_64 } from '../src/elf/constants.js';
import { FLAG_ELF_LIBC5, FLAG_ELF_LIBC6, formatCacheEntry, lookupLdCache, readLdCache, type LdCache } from '../src/ldcache/index.js';
import { readLdConf, type LdConf, type LdConfDirectory } from '../src/ldconf.js';
import { buildCacheFromLdConf } from '../src/ldconfig-cache.js';
import { SysRoot } from '../src/sysroot.js';
import { useTempDirs } from './helpers/temp-dirs.js';

const haveLdconfig = spawnSync('ldconfig', ['--version'], { stdio: 'ignore' }).status === 0;
const haveGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const onX86_64 = process.arch === 'x64';
/** Debian 12's ldconfig adds SLIBDIR, LIBDIR, /lib and /usr/lib after the configuration. */
const DEBIAN_BUILTINS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'];
const X86_64 = { elfClass: 64 as const, machine: EM_X86_64, interpreter: '/lib64/ld-linux-x86-64.so.2' };

const tempDir = useTempDirs();

/** Writes files (text) and creates directories and symlinks under `base`. */
function tree(base: string, spec: Record<string, string | { dir: true } | { link: string }>): void {
  for (const [rel, what] of Object.entries(spec)) {
    const p = path.join(base, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof what === 'string') fs.writeFileSync(p, what);
    else if ('dir' in what) fs.mkdirSync(p, { recursive: true });
    else fs.symlinkSync(what.link, p);
  }
}

interface Scanned {
  path: string;
  from: string;
  line: number;
  hwcaps?: string;
}

/** The directory lines of `ldconfig -v`: `DIR: [(hwcap: "NAME") ](from FILE:LINE)`. */
function ldconfigDirs(args: string[], opts: { nofile?: number } = {}): Scanned[] {
  const cmd = `${opts.nofile ? `ulimit -n ${opts.nofile}; ` : ''}exec ldconfig "$@"`;
  const run = spawnSync('sh', ['-c', cmd, 'sh', '-v', '-N', '-X', ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  if (run.status !== 0) throw new Error(`ldconfig failed: ${run.stderr.slice(0, 2000)}`);
  const out: Scanned[] = [];
  for (const line of run.stdout.split('\n')) {
    const m = /^(\S.*?): (?:\(hwcap: (?:"(.*)"|0x[0-9a-f]+)\) )?\(from (.*):(\d+)\)$/.exec(line);
    if (!m) continue;
    const s: Scanned = { path: m[1] ?? '', from: m[3] ?? '', line: Number(m[4]) };
    if (m[2] !== undefined) s.hwcaps = m[2];
    out.push(s);
  }
  return out;
}

/**
 * ldconfig adds a directory's glibc-hwcaps subdirectories in readdir order, which no portable API gives;
 * SysRoot lists them sorted. Sort both sides within each run of subdirectories.
 */
function hwcapsSorted(list: Scanned[]): Scanned[] {
  const out: Scanned[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j < list.length && list[j]?.hwcaps !== undefined) j++;
    if (j > i) {
      out.push(...list.slice(i, j).sort((a, b) => (a.path < b.path ? -1 : 1)));
      i = j;
    } else {
      const item = list[i];
      if (item) out.push(item);
      i++;
    }
  }
  return out;
}

function ours(dirs: readonly LdConfDirectory[], stripFrom = ''): Scanned[] {
  return dirs.map((d) => {
    const s: Scanned = { path: d.path, from: d.from === '<builtin>' || stripFrom === '' ? d.from : stripFrom + d.from, line: d.line };
    if (d.hwcaps !== undefined) s.hwcaps = d.hwcaps;
    return s;
  });
}

describe('readLdConf', () => {
  let base = '';
  let conf = '';
  beforeAll(() => {
    base = tempDir('ldconf-host-');
    const T = base;
    tree(T, {
      'opt/one': { dir: true },
      'opt/two': { dir: true },
      'opt/a/glibc-hwcaps/x86-64-v3': { dir: true },
      'opt/a/glibc-hwcaps/.hidden': { dir: true },
      'opt/a/glibc-hwcaps/regular-file': 'not a directory',
      'opt/a/glibc-hwcaps/linked': { link: `${T}/elsewhere` },
      'opt/a/glibc-hwcaps/bad:name': { dir: true },
      elsewhere: { dir: true },
      'opt/b': { dir: true },
      'opt/n': { dir: true },
      'opt/e': { dir: true },
      'opt/x': { dir: true },
      'opt/y': { dir: true },
      'opt/three': { dir: true },
      'opt/with space': { dir: true },
      'opt/link': { link: `${T}/opt/a` },
      'etc/ld.so.conf': [
        '# a comment line',
        `${T}/opt/one`,
        'include conf.d/*.conf',
        `   ${T}/opt/two//   # trailing slashes, blanks and a comment`,
        'hwcap 0 nosegneg',
        'HWCAP 1 other',
        `${T}/opt/x ${T}/opt/y`,
        `${T}/opt/x,${T}/opt/y`,
        `${T}/opt/three=libc6`,
        `${T}/opt/with space`,
        `${T}/opt/missing`,
        `${T}/opt/link`,
        `include\t${T}/etc/ext*/*.conf ${T}/etc/nomatch/*.conf`,
        `${T}/opt/one=libc5`,
        `${T}/opt/x=libc7`,
        '',
      ].join('\n'),
      'etc/conf.d/a.conf': `${T}/opt/a\ninclude ../nested/*.conf\n`,
      'etc/conf.d/b.conf': `${T}/opt/b\n`,
      'etc/conf.d/.hidden.conf': `${T}/opt/x\n`,
      'etc/conf.d/c.conf.disabled': `${T}/opt/y\n`,
      'etc/nested/n.conf': `${T}/opt/n`,
      'etc/extra/e.conf': `${T}/opt/e\n`,
    });
    conf = `${T}/etc/ld.so.conf`;
  });

  it.skipIf(!haveLdconfig)('lists the directories ldconfig -v scans, in its order, with the file and line that named each', () => {
    const result = readLdConf(new SysRoot('/'), { path: conf, builtinDirs: DEBIAN_BUILTINS });
    expect(hwcapsSorted(ours(result.directories))).toEqual(hwcapsSorted(ldconfigDirs(['-f', conf])));
  });

  it('takes a line whole: blanks and commas inside it are part of the name, # ends it, =TYPE is cut off', () => {
    const result = readLdConf(new SysRoot('/'), { path: conf });
    const T = base;
    expect(result.directories.map((d) => d.path)).toEqual([
      `${T}/opt/one`,
      `${T}/opt/a`,
      `${T}/opt/a/glibc-hwcaps/linked`,
      `${T}/opt/a/glibc-hwcaps/x86-64-v3`,
      `${T}/opt/n`,
      `${T}/opt/b`,
      `${T}/opt/two`,
      `${T}/opt/three`,
      `${T}/opt/with space`,
      `${T}/opt/e`,
      `${T}/opt/x`,
    ]);
    const byPath = new Map(result.directories.map((d) => [d.path, d]));
    // A later mention keeps the first place but its =TYPE wins (add_single_dir "use the newer information").
    expect(byPath.get(`${T}/opt/one`)?.libType).toBe(FLAG_ELF_LIBC5);
    expect(byPath.get(`${T}/opt/three`)?.libType).toBe(FLAG_ELF_LIBC6);
    expect(byPath.get(`${T}/opt/x`)?.libType).toBeUndefined();
    // A relative include keeps its written form, as glob returns it and ldconfig -v prints it.
    expect(byPath.get(`${T}/opt/n`)).toMatchObject({ from: `${T}/etc/conf.d/../nested/n.conf`, line: 1 });
    expect(result.files).toEqual([conf, `${T}/etc/conf.d/a.conf`, `${T}/etc/conf.d/../nested/n.conf`, `${T}/etc/conf.d/b.conf`, `${T}/etc/extra/e.conf`]);
    const messages = result.notes.map((n) => `${path.basename(n.file)}:${n.line}: ${n.message}`);
    expect(messages).toContain('ld.so.conf:5: hwcap directive ignored');
    expect(messages).toContain('ld.so.conf:6: hwcap directive ignored');
    expect(messages).toContain(`ld.so.conf:7: can't stat ${T}/opt/x ${T}/opt/y`);
    expect(messages).toContain(`ld.so.conf:8: can't stat ${T}/opt/x,${T}/opt/y`);
    expect(messages).toContain(`ld.so.conf:11: can't stat ${T}/opt/missing`);
    expect(messages).toContain('ld.so.conf:15: libc7 is not a known library type');
    expect(messages.some((m) => m.startsWith(`ld.so.conf:12: ${T}/opt/link given more than once`))).toBe(true);
  });

  it('reads a root from inside it: absolute links, includes and directories all resolve in the root', () => {
    const root = tempDir('ldconf-root-');
    tree(root, {
      'etc/ld.so.conf': '/opt/first\ninclude /etc/ld.so.conf.d/*.conf\n/opt/abs\n',
      'etc/ld.so.conf.d/10-real.conf': '/opt/real\n',
      'etc/ld.so.conf.d/20-via-link.conf': { link: '/etc/elsewhere/via.conf' },
      'etc/elsewhere/via.conf': '/opt/via\n',
      'opt/first': { dir: true },
      'opt/real/glibc-hwcaps/x86-64-v2': { dir: true },
      'opt/via': { dir: true },
      // An absolute link: the host's /opt/real is not what ldconfig -r sees.
      'opt/abs': { link: '/opt/real' },
      'lib/x86_64-linux-gnu': { dir: true },
      'usr/lib': { dir: true },
    });
    const result = readLdConf(new SysRoot(root), { builtinDirs: DEBIAN_BUILTINS });
    expect(result.directories.map((d) => d.path)).toEqual(['/opt/first', '/opt/real', '/opt/real/glibc-hwcaps/x86-64-v2', '/opt/via', '/lib/x86_64-linux-gnu', '/lib', '/usr/lib']);
    expect(result.notes.some((n) => n.message.startsWith('/opt/abs given more than once'))).toBe(true);
    if (haveLdconfig) {
      // ldconfig -r names included files by their host path; ours are in-root.
      const real = ldconfigDirs(['-r', root]).map((s) => ({ ...s, from: s.from.startsWith(root) ? s.from.slice(root.length) : s.from }));
      expect(ours(result.directories)).toEqual(real);
    }
  });

  it('stops an include loop, reads every file once per chain, and finds the directories ldconfig finds', () => {
    const T = tempDir('ldconf-loop-');
    tree(T, {
      'etc/ld.so.conf': `${T}/opt/a\ninclude loop.d/*.conf\n${T}/opt/c\n`,
      'etc/loop.d/b.conf': `include ../ld.so.conf\n${T}/opt/b\ninclude self.conf\n`,
      'etc/loop.d/self.conf': `include self.conf\n${T}/opt/s\n`,
      'opt/a': { dir: true },
      'opt/b': { dir: true },
      'opt/c': { dir: true },
      'opt/s': { dir: true },
    });
    const result = readLdConf(new SysRoot('/'), { path: `${T}/etc/ld.so.conf` });
    expect(result.directories.map((d) => path.basename(d.path))).toEqual(['a', 'b', 's', 'c']);
    expect(result.notes.filter((n) => n.message.startsWith('include loop'))).toHaveLength(3);
    if (haveLdconfig) {
      // ldconfig recurses until fopen fails with EMFILE; a low limit keeps that quick. Its order depends
      // on where the recursion stops, so only the set is compared.
      const real = ldconfigDirs(['-f', `${T}/etc/ld.so.conf`], { nofile: 64 }).filter((s) => s.from !== '<builtin>');
      expect(new Set(real.map((s) => s.path))).toEqual(new Set(result.directories.map((d) => d.path)));
    }
  });

  it('a missing top file is an empty configuration; a directory named by an include reads as nothing', () => {
    const T = tempDir('ldconf-missing-');
    tree(T, { 'etc/ld.so.conf': 'include conf.d\n', 'etc/conf.d/x.conf': '/nonexistent\n' });
    expect(readLdConf(new SysRoot(T), { path: '/etc/none.conf' }).directories).toEqual([]);
    const result = readLdConf(new SysRoot(T));
    expect(result.directories).toEqual([]);
    expect(result.notes).toEqual([]);
  });
});

describe.skipIf(!haveLdconfig || !haveGcc || !onX86_64)('buildCacheFromLdConf predicts the cache ldconfig writes', () => {
  let root = '';
  let have32 = false;
  const build = (out: string, opts: { soname?: string; m32?: boolean; nostdlib?: boolean; extra?: string[] } = {}): void => {
    const file = path.join(root, out);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const src = path.join(root, 'src.c');
    fs.writeFileSync(src, 'int f(void) { return 42; }\n');
    execFileSync('gcc', [
      '-shared',
      '-fPIC',
      ...(opts.m32 ? ['-m32'] : []),
      ...(opts.nostdlib ? ['-nostdlib'] : []),
      ...(opts.soname ? [`-Wl,-soname,${opts.soname}`] : []),
      ...(opts.extra ?? []),
      '-o',
      file,
      src,
    ]);
  };

  beforeAll(() => {
    root = tempDir('ldconf-scan-');
    const probe = path.join(root, 'probe.c');
    fs.writeFileSync(probe, 'int f(void) { return 0; }\n');
    have32 = spawnSync('gcc', ['-m32', '-shared', '-fPIC', '-o', path.join(root, 'probe.so'), probe], { stdio: 'ignore' }).status === 0;
    build('opt/a/libfoo.so.1.0', { soname: 'libfoo.so.1' });
    fs.symlinkSync('libfoo.so.1', path.join(root, 'opt/a/libfoo.so'));
    build('opt/a/libbar.so.2.1', { soname: 'libbar.so.2' });
    build('opt/a/libbar.so.2.10', { soname: 'libbar.so.2' });
    build('opt/a/libbar.so.2.9', { soname: 'libbar.so.2' });
    fs.symlinkSync('libbar.so.2.1', path.join(root, 'opt/a/libalias.so.5'));
    build('opt/a/libnosoname.so.3');
    build('opt/a/libnolibc.so.1', { soname: 'libnolibc.so.1', nostdlib: true });
    build('opt/a/glibc-hwcaps/x86-64-v3/libfoo.so.1.5', { soname: 'libfoo.so.1', extra: ['-Wl,-z,x86-64-v3'] });
    build('opt/a/glibc-hwcaps/x86-64-v2/libfoo.so.1', { soname: 'libfoo.so.1' });
    build('opt/a/tls/libfoo.so.1', { soname: 'libfoo.so.1' });
    build('opt/a/x86_64/libfoo.so.1', { soname: 'libfoo.so.1' });
    build('opt/a/haswell/x86_64/libfoo.so.1', { soname: 'libfoo.so.1' });
    build('opt/b/libfoo.so.1', { soname: 'libfoo.so.1' });
    build('opt/b/libb.so.1', { soname: 'libb.so.1' });
    tree(root, {
      'opt/a/libscript.so': '/* GNU ld script */\nGROUP ( libfoo.so.1 )\n',
      'opt/a/notalib.txt': 'text',
      'opt/a/libdangling.so.4': { link: 'libgone.so.4' },
      'opt/a/libdir.so': { dir: true },
      'lib/x86_64-linux-gnu': { dir: true },
      'etc/ld.so.conf': '/opt/a\n/opt/b\ninclude /etc/ld.so.conf.d/*.conf\n',
      'etc/ld.so.conf.d/32.conf': '/opt/m32=libc6\n/opt/m32plain\n',
    });
    if (have32) {
      build('opt/m32/libtiny32.so.1', { soname: 'libtiny32.so.1', m32: true, nostdlib: true });
      build('opt/m32/libwithc32.so.1', { soname: 'libwithc32.so.1', m32: true });
      build('opt/m32plain/libtiny32.so.1', { soname: 'libtiny32.so.1', m32: true, nostdlib: true });
    }
    fs.copyFileSync(fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6'), path.join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
  });

  const realCache = (args: string[]): LdCache => {
    execFileSync('ldconfig', ['-r', root, '-C', '/etc/real.cache', ...args]);
    const cache = readLdCache(new SysRoot(root), '/etc/real.cache');
    if (!cache) throw new Error('ldconfig wrote no cache');
    return cache;
  };
  const lines = (cache: LdCache): string[] => cache.entries.map((e) => `${formatCacheEntry(e)} hwcap=${e.hwcap.toString(16)}`);
  const predict = (): ReturnType<typeof buildCacheFromLdConf> => {
    const sys = new SysRoot(root);
    return buildCacheFromLdConf(sys, readLdConf(sys, { builtinDirs: DEBIAN_BUILTINS }), X86_64);
  };

  it('before ldconfig has made any link (ldconfig -X): same entries, order, flags and hwcap values', () => {
    const real = realCache(['-X']);
    const predicted = predict();
    expect(lines(predicted.cache)).toEqual(lines(real));
    // The SONAME links ldconfig would make are reported, the paths in the cache do not exist yet.
    expect(predicted.missingLinks).toContainEqual({ path: '/opt/a/libfoo.so.1', target: 'libfoo.so.1.0' });
    expect(predicted.missingLinks).toContainEqual({ path: '/opt/a/libbar.so.2', target: 'libbar.so.2.10' });
    expect(predicted.skipped.map((s) => s.path)).toContain('/opt/a/libscript.so');
  });

  it('after ldconfig made its links: the development link and the dangling link change the cache the same way', () => {
    realCache([]);
    const real = realCache([]);
    const predicted = predict();
    expect(lines(predicted.cache)).toEqual(lines(real));
    expect(predicted.missingLinks).toEqual([]);
    const target = { ...X86_64, hwcaps: ['x86-64-v3', 'x86-64-v2'], platform: 'haswell', legacyHwcapDirs: ['haswell/x86_64', 'x86_64'] };
    expect(lookupLdCache(predicted.cache, 'libfoo.so.1', target).path).toBe('/opt/a/glibc-hwcaps/x86-64-v3/libfoo.so.1.5');
    expect(lookupLdCache(predicted.cache, 'libfoo.so.1', { ...target, hwcaps: [] }).path).toBe(lookupLdCache(real, 'libfoo.so.1', { ...target, hwcaps: [] }).path);
    expect(predicted.cache.entries.find((e) => e.hwcaps === 'x86-64-v3')?.isaLevel).toBe(2);
  });

  it.skipIf(!fs.existsSync('/etc/ld.so.conf'))("on this machine's own configuration: the same cache as a fresh ldconfig -X -C", () => {
    const dir = tempDir('ldconf-hostcache-');
    const file = path.join(dir, 'host.cache');
    execFileSync('ldconfig', ['-X', '-C', file]);
    const real = readLdCache(new SysRoot('/'), file);
    const host = new SysRoot('/');
    const conf: LdConf = readLdConf(host, { builtinDirs: DEBIAN_BUILTINS });
    const predicted = buildCacheFromLdConf(host, conf, X86_64);
    expect(real).toBeDefined();
    if (real) expect(lines(predicted.cache)).toEqual(lines(real));
  });
});
