/**
 * `elfcopy sbom` against independent oracles: the CycloneDX library's strict JSON-schema validator;
 * `dpkg-query -S` for each file's package (its merged-/usr aliases taken from /'s own links);
 * `dpkg-query -W` for versions; sha256sum for hashes; os-release for the purl distro; readelf + ldd for
 * the dependency edges; a file edited after the copy is not claimed; a --root describes its own packages.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftElf } from '../../elf-deps/test/helpers/elf-writer.js';
import { elfcopy, withTmpfs } from './helpers.js';

interface Property {
  name: string;
  value: string;
}
interface Component {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  'bom-ref': string;
  hashes?: { alg: string; content: string }[];
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: Property[];
  components?: Component[];
}
interface Bom {
  bomFormat: string;
  specVersion: string;
  metadata: { timestamp: string; component: Component };
  components: Component[];
  dependencies: { ref: string; dependsOn?: string[] }[];
}

let tmp = '';
let jail = '';
let bomText = '';
let bom: Bom;

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const prop = (c: Component, name: string): string | undefined => c.properties?.find((p) => p.name === name)?.value;

/** Every file component with the package component it is nested in (undefined at the top level). */
function filesOf(b: Bom): { file: Component; pkg: Component | undefined }[] {
  const out: { file: Component; pkg: Component | undefined }[] = [];
  for (const c of b.components) {
    if (c.type === 'file') out.push({ file: c, pkg: undefined });
    for (const f of c.components ?? []) out.push({ file: f, pkg: c });
  }
  return out;
}

/** The merged-/usr aliases of an on-disk path, from /'s top-level `X -> usr/X` links. */
function aliases(p: string): string[] {
  const out = [p];
  for (const name of fs.readdirSync('/')) {
    let t: string;
    try {
      t = fs.readlinkSync(`/${name}`);
    } catch {
      continue;
    }
    if (t.replace(/^\/+/, '') === `usr/${name}` && p.startsWith(`/usr/${name}/`)) out.push(p.slice(4));
  }
  return out;
}

/** `dpkg-query -S` for many literal paths: path → package names (arch qualifiers dropped). */
function dpkgSearch(paths: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const r = spawnSync('dpkg-query', ['-S', ...paths], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const line of r.stdout.split('\n')) {
    if (line === '' || line.startsWith('diversion by ')) continue;
    const sep = line.indexOf(': /');
    out.set(line.slice(sep + 2), line.slice(0, sep).split(', ').map((n) => n.replace(/:.*$/, '')));
  }
  return out;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the sbom tests build a jail with device nodes: run them as root (CI does)');
  if (spawnSync('dpkg-query', ['--version']).status !== 0) throw new Error('dpkg-query is missing: the SBOM oracles need a Debian host');
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-sbom-')));
  jail = path.join(tmp, 'jail');
  expect((await elfcopy(['init', jail, '--user', 'www-data'])).exitCode).toBe(0);
  const c = await elfcopy(['/usr/sbin/nginx', '--into', jail, '--with', 'auto', '--quiet'], { timeout: 120_000 });
  expect(c.exitCode, c.stderr).toBe(0);
  const r = await elfcopy(['sbom', jail]);
  expect(r.exitCode, r.stderr).toBe(0);
  bomText = r.stdout;
  bom = JSON.parse(bomText) as Bom;
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('elfcopy sbom: CycloneDX 1.6 of an nginx jail', () => {
  it('passes the CycloneDX library strict JSON-schema validator (1.6)', async () => {
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.specVersion).toBe('1.6');
    const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(bomText);
    expect(errors).toBeNull();
    // The validator is not a rubber stamp: a component without its required name fails.
    const broken = JSON.parse(bomText) as { components: { name?: string }[] };
    delete broken.components[0]?.name;
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(JSON.stringify(broken))).not.toBeNull();
  });

  it('every regular file of the jail is a file component whose SHA-256 is the file\'s (and nothing of /.elfcopy)', () => {
    const files = filesOf(bom);
    const onDisk: string[] = [];
    const walk = (rel: string): void => {
      const st = fs.lstatSync(path.join(jail, rel));
      if (st.isDirectory()) for (const n of fs.readdirSync(path.join(jail, rel))) walk(path.posix.join(rel, n));
      else if (st.isFile() && !rel.startsWith('/.elfcopy/')) onDisk.push(rel);
    };
    walk('/');
    expect(files.map((f) => f.file.name).sort()).toEqual(onDisk.sort());
    for (const { file } of files) expect({ f: file.name, h: file.hashes }).toEqual({ f: file.name, h: [{ alg: 'SHA-256', content: sha256(path.join(jail, file.name)) }] });
  });

  it("each file's package is dpkg-query -S's for the path or its merged-/usr alias; unowned files are dpkg's unowned (or edited)", () => {
    const files = filesOf(bom);
    const oracle = dpkgSearch([...new Set(files.flatMap((f) => aliases(f.file.name)))]);
    let owned = 0;
    for (const { file, pkg } of files) {
      const expected = [...new Set(aliases(file.name).flatMap((a) => oracle.get(a) ?? []))];
      if (pkg) {
        expect({ f: file.name, owners: expected }).toEqual({ f: file.name, owners: expect.arrayContaining([pkg.name]) as unknown });
        owned++;
      } else if (expected.length > 0) {
        // Unclaimed although dpkg knows it: only because the copy differs from dpkg's record.
        expect({ f: file.name, differs: prop(file, 'elfcopy:dpkg:differs-from') !== undefined }).toEqual({ f: file.name, differs: true });
      }
    }
    expect(owned).toBeGreaterThan(50);
    const libc = files.find((f) => /\/libc\.so\.6$/.test(f.file.name));
    expect(libc?.pkg?.name).toBe('libc6');
    expect(libc?.file.name.startsWith('/usr/lib/')).toBe(true);
  });

  it('package versions equal dpkg-query -W; purls carry arch and the distro from /etc/os-release', () => {
    const osr = Object.fromEntries(
      fs
        .readFileSync('/etc/os-release', 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^"|"$/g, '')]),
    ) as Record<string, string>;
    const pkgs = bom.components.filter((c) => c.type === 'library');
    expect(pkgs.length).toBeGreaterThan(5);
    for (const p of pkgs) {
      const arch = prop(p, 'elfcopy:deb:architecture') ?? '';
      const v = execFileSync('dpkg-query', ['-W', '-f', '${Version}', `${p.name}:${arch}`], { encoding: 'utf8' });
      expect({ name: p.name, version: p.version }).toEqual({ name: p.name, version: v });
      expect(p.purl).toBe(`pkg:deb/${osr.ID}/${p.name}@${v}?arch=${arch}&distro=${osr.ID}-${osr.VERSION_ID}`);
    }
  });

  it('DEP-5 licenses: a machine-readable copyright gives the License: names of its Files paragraphs', () => {
    let checked = 0;
    for (const p of bom.components.filter((c) => c.type === 'library')) {
      const file = `/usr/share/doc/${p.name}/copyright`;
      if (!fs.existsSync(file)) continue;
      const text = fs.readFileSync(file, 'utf8');
      if (!/^Format: https?:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/?\s*$/m.test(text.split('\n')[0] ?? '')) continue;
      const names = new Set(text.split('\n').filter((l) => /^License:\s*\S/.test(l)).flatMap((l) => l.replace(/^License:\s*/, '').split(/\s+(?:or|and)\s+/i).map((n) => n.replace(/\s+with\s+.*$/i, '').trim().toLowerCase())));
      const ours = (p.licenses ?? []).map((l) => ('license' in l ? (l.license.name ?? l.license.id ?? '') : l.expression));
      expect(ours.length, p.name).toBeGreaterThan(0);
      // Each license is one of the file's License: names, as written or as its SPDX id.
      for (const l of ours) expect(names.has(l.toLowerCase()) || [...names].some((n) => spdxLike(n, l)), `${p.name}: ${l}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('dependencies: /usr/sbin/nginx depends on the files its DT_NEEDED names resolve to (ldd) and its loader; nginx on libc6', () => {
    const needed = execFileSync('readelf', ['-d', '/usr/sbin/nginx'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
    const ldd = new Map(
      execFileSync('ldd', ['/usr/sbin/nginx'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => /^\s*(\S+) => (\S+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1] ?? '', fs.realpathSync(m[2] ?? '')]),
    );
    const interp = fs.realpathSync(execFileSync('readelf', ['-l', '/usr/sbin/nginx'], { encoding: 'utf8' }).match(/interpreter: (\S+)\]/)?.[1] ?? '');
    const expected = [...new Set([...needed.map((n) => ldd.get(n) ?? `missing ${n}`), interp])].sort();
    const file = filesOf(bom).find((f) => f.file.name === '/usr/sbin/nginx')?.file;
    const deps = bom.dependencies.find((d) => d.ref === file?.['bom-ref'])?.dependsOn ?? [];
    expect(deps.map((r) => r.replace(/^file:/, '')).sort()).toEqual(expected);
    const nginxPkg = filesOf(bom).find((f) => f.file.name === '/usr/sbin/nginx')?.pkg;
    const libc6 = bom.components.find((c) => c.name === 'libc6');
    expect(bom.dependencies.find((d) => d.ref === nginxPkg?.['bom-ref'])?.dependsOn).toContain(libc6?.['bom-ref']);
  });

  it('"loaded by": libc.so.6 loads libgcc_s.so.1 and every NSS module of the jail, which no DT_NEEDED names', () => {
    const files = filesOf(bom).map((f) => f.file);
    const libc = files.find((f) => /\/libc\.so\.6$/.test(f.name));
    const loaded = files.filter((f) => /\/libgcc_s\.so\.1$|\/libnss_[^/]+\.so(\.\d+)*$/.test(f.name));
    expect(loaded.length).toBeGreaterThan(0);
    // Nothing in the jail names them in DT_NEEDED (readelf), so the edge can only be the run-time one.
    for (const f of loaded) {
      const soname = path.basename(f.name);
      const namers = files.filter((g) => g.name !== f.name && spawnSync('readelf', ['-d', path.join(jail, g.name)], { encoding: 'utf8' }).stdout.includes(`[${soname}]`));
      expect(namers.map((g) => g.name)).toEqual([]);
    }
    const deps = bom.dependencies.find((d) => d.ref === libc?.['bom-ref'])?.dependsOn ?? [];
    for (const f of loaded) expect(deps).toContain(f['bom-ref']);
  });

  it('two runs give the same bytes; --output writes the same document', async () => {
    const again = await elfcopy(['sbom', jail]);
    expect(again.stdout).toBe(bomText);
    const out = path.join(tmp, 'bom.json');
    const r = await elfcopy(['sbom', jail, '--output', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    // execa drops stdout's final newline.
    expect(fs.readFileSync(out, 'utf8')).toBe(`${bomText}\n`);
  });
});

describe('elfcopy sbom: what the SBOM must not claim, and other roots', () => {
  it('a file edited after the copy is not claimed for its package, and the SBOM says which package differs', async () => {
    const edited = path.join(tmp, 'edited');
    execFileSync('cp', ['-a', jail, edited]);
    fs.appendFileSync(path.join(edited, 'etc/nginx/mime.types'), '# edited\n');
    const r = await elfcopy(['sbom', edited]);
    expect(r.exitCode, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout) as Bom;
    const f = filesOf(b).find((x) => x.file.name === '/etc/nginx/mime.types');
    expect(f?.pkg).toBeUndefined();
    const owner = execFileSync('dpkg-query', ['-S', '/etc/nginx/mime.types'], { encoding: 'utf8' }).split(':')[0];
    expect(prop(f?.file ?? ({} as Component), 'elfcopy:dpkg:differs-from')?.replace(/:.*$/, '')).toBe(owner);
    // Unedited, the same file is claimed by the same package.
    expect(filesOf(bom).find((x) => x.file.name === '/etc/nginx/mime.types')?.pkg?.name).toBe(owner);
  });

  it('--root describes the jail from that root\'s own dpkg database and os-release (an arm64 root)', async () => {
    const root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    fs.mkdirSync(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    const hello = craftElf({ elfClass: 64, byteOrder: 'little', machine: 183, interp: '/lib/ld-linux-aarch64.so.1' }).bytes;
    fs.writeFileSync(path.join(root, 'usr/bin/hello'), hello, { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'etc/os-release'), 'ID=debian\nVERSION_ID="13"\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n');
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), 'Package: dpkg\nStatus: install ok installed\nArchitecture: arm64\nVersion: 1.22.21\n\nPackage: hello\nStatus: install ok installed\nArchitecture: arm64\nVersion: 2.10-3\nMaintainer: Someone <s@example.org>\n');
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/info/hello.list'), '/.\n/usr\n/usr/bin\n/usr/bin/hello\n');
    fs.writeFileSync(path.join(root, 'var/lib/dpkg/info/hello.md5sums'), `${createHash('md5').update(hello).digest('hex')}  usr/bin/hello\n`);
    const j = path.join(tmp, 'arm-jail');
    fs.mkdirSync(path.join(j, 'usr/bin'), { recursive: true });
    fs.copyFileSync(path.join(root, 'usr/bin/hello'), path.join(j, 'usr/bin/hello'));
    const r = await elfcopy(['sbom', j, '--root', root]);
    expect(r.exitCode, r.stderr).toBe(0);
    const b = JSON.parse(r.stdout) as Bom;
    const pkgs = b.components.filter((c) => c.type === 'library');
    expect(pkgs.map((p) => [p.name, p.version, p.purl])).toEqual([['hello', '2.10-3', 'pkg:deb/debian/hello@2.10-3?arch=arm64&distro=debian-13']]);
    expect(pkgs[0]?.components?.map((f) => f.name)).toEqual(['/usr/bin/hello']);
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(r.stdout)).toBeNull();
  });

  it('a directory that is not an elfcopy jail works with a warning; a missing jail exits 2 with one line', async () => {
    const plain = path.join(tmp, 'plain');
    fs.mkdirSync(path.join(plain, 'bin'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(plain, 'bin/true'));
    const r = await elfcopy(['sbom', plain]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^elfcopy: warning: .*no readable \/\.elfcopy\/manifest\.json/m);
    const b = JSON.parse(r.stdout) as Bom;
    expect(filesOf(b).find((f) => f.file.name === '/bin/true')?.pkg?.name).toBe('coreutils');
    const missing = await elfcopy(['sbom', path.join(tmp, 'nope')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--output on a full disk exits 3 (as a full jail does) with one line naming the file, and leaves no file, not even a temporary one', async () => {
    const mnt = path.join(tmp, 'tiny');
    await withTmpfs(mnt, '64k', async () => {
      const out = path.join(mnt, 'bom.json');
      const r = await elfcopy(['sbom', jail, '--output', out]);
      expect(r.exitCode).toBe(3);
      expect(r.stderr.trim().split('\n')).toEqual([`elfcopy: ${out}: cannot be written: no space left on device (ENOSPC); nothing was changed there`]);
      expect(fs.readdirSync(mnt)).toEqual([]);
    });
  });

  it('--output on a read-only file system exits 3 with one line naming the file (EROFS); an SBOM already there is left as it was', async () => {
    const mnt = path.join(tmp, 'ro');
    await withTmpfs(mnt, '4m', async () => {
      const out = path.join(mnt, 'bom.json');
      fs.writeFileSync(out, 'an older SBOM\n');
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      const r = await elfcopy(['sbom', jail, '--output', out]);
      expect(r.exitCode).toBe(3);
      expect(r.stderr.trim().split('\n')).toEqual([`elfcopy: ${out}: cannot be written: read-only file system (EROFS); nothing was changed there`]);
      expect(fs.readdirSync(mnt)).toEqual(['bom.json']);
      expect(fs.readFileSync(out, 'utf8')).toBe('an older SBOM\n');
    });
  });

  it('image --sbom writes the SBOM beside the image and records its digest in the manifest', async () => {
    const out = path.join(tmp, 'oci');
    const file = path.join(tmp, 'image-bom.json');
    const r = await elfcopy(['image', jail, '--oci', out, '--tag', 'nginx:sbom', '--sbom', file]);
    expect(r.exitCode, r.stderr).toBe(0);
    const text = fs.readFileSync(file, 'utf8');
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text)).toBeNull();
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'blobs/sha256', r.stdout.trim().slice(7)), 'utf8')) as { annotations: Record<string, string> };
    expect(manifest.annotations['dev.elfcopy.sbom.digest']).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
    const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${out}:sbom`], { encoding: 'utf8' });
    expect(JSON.parse(raw)).toMatchObject({ annotations: { 'dev.elfcopy.sbom.digest': manifest.annotations['dev.elfcopy.sbom.digest'] } });
  });
});

/** A DEP-5 short name and the SPDX id it maps to (GPL-2+ ~ GPL-2.0-or-later, Expat ~ MIT, BSD-3-clause ~ BSD-3-Clause). */
function spdxLike(dep5: string, spdx: string): boolean {
  const s = spdx.toLowerCase();
  if (dep5 === 'expat') return s === 'mit';
  const gnu = /^(a?gpl|lgpl)-(\d(?:\.\d)?)(\+)?$/.exec(dep5);
  if (gnu) return s === `${gnu[1]}-${(gnu[2] ?? '').includes('.') ? gnu[2] : `${gnu[2]}.0`}-${gnu[3] ? 'or-later' : 'only'}`;
  return dep5 === s;
}
