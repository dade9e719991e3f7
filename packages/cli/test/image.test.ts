/**
 * `elfcopy image` against the real clients: skopeo reads the layout and the archive (architecture,
 * entrypoint, user), umoci unpacks it and nginx's own configuration test passes in the unpacked root,
 * whose devices, owners, modes, links and hard links are the jail's. Two runs give the same digests;
 * an arm64 jail copied from a crafted arm64 root is arm64; bad input exits 2 leaving nothing behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { craftElf } from '../../elf-deps/test/helpers/elf-writer.js';
import { elfcopy, withTmpfs } from './helpers.js';

const EM_AARCH64 = 183;
const ENTRYPOINT = ['/usr/sbin/nginx', '-g', 'daemon off;'];
let tmp = '';
let jail = '';

function need(cmd: string): void {
  if (spawnSync(cmd, ['--version'], { encoding: 'utf8' }).status !== 0) throw new Error(`${cmd} is not installed: .ci/run installs it (scripts/test-packages.txt)`);
}
const inspect = (ref: string, ...flags: string[]): Record<string, unknown> => JSON.parse(execFileSync('skopeo', ['inspect', ...flags, ref], { encoding: 'utf8' })) as Record<string, unknown>;
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('elfcopy: warning:'));
const indexOf = (layout: string): { manifests: { digest: string; annotations?: Record<string, string> }[] } => JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));

/** lstat of every entry below `dir` (no link followed), keyed by its path relative to dir. */
function tree(dir: string): Map<string, fs.Stats> {
  const out = new Map<string, fs.Stats>();
  const walk = (rel: string): void => {
    const st = fs.lstatSync(path.join(dir, rel));
    out.set(rel, st);
    if (st.isDirectory()) for (const n of fs.readdirSync(path.join(dir, rel))) walk(rel === '' ? n : `${rel}/${n}`);
  };
  walk('');
  return out;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the image tests build a jail with device nodes and owners: run them as root (CI does)');
  need('skopeo');
  need('umoci');
  if (!fs.existsSync('/usr/sbin/nginx')) throw new Error('/usr/sbin/nginx is not installed: .ci/run installs nginx');
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-image-')));
  jail = path.join(tmp, 'jail');
  const init = await elfcopy(['init', jail, '--user', 'www-data', '--writable', 'www-data:/var/lib/nginx,/var/log/nginx']);
  expect(init.exitCode, init.stderr).toBe(0);
  const copy = await elfcopy(['/usr/sbin/nginx', '--into', jail, '--with', 'auto', '--quiet'], { timeout: 120_000 });
  expect(copy.exitCode, copy.stderr).toBe(0);
  // What a layer must carry beyond copied files: a hard link, a name ustar cannot hold (PAX), a
  // non-ASCII name, a FIFO, a file of a service user with its own mode.
  fs.linkSync(path.join(jail, 'etc/nginx/mime.types'), path.join(jail, 'etc/nginx/mime.types.hardlink'));
  const deep = path.join(jail, 'srv', 'a'.repeat(90), 'b'.repeat(90));
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(deep, 'long-name-needs-pax.txt'), 'pax\n');
  fs.writeFileSync(path.join(jail, 'srv', 'café.txt'), 'utf-8 name\n');
  execFileSync('mkfifo', [path.join(jail, 'srv', 'fifo')]);
  fs.writeFileSync(path.join(jail, 'var/lib/nginx/owned'), 'www-data\n', { mode: 0o640 });
  fs.chownSync(path.join(jail, 'var/lib/nginx/owned'), 33, 33);
  fs.chmodSync(path.join(jail, 'var/lib/nginx/owned'), 0o640);
  // Ids above ustar's 7 octal digits, and a link target beyond its 100 bytes: PAX records.
  fs.writeFileSync(path.join(jail, 'srv', 'big-ids'), 'x\n');
  fs.chownSync(path.join(jail, 'srv', 'big-ids'), 3_000_000, 3_000_001);
  fs.symlinkSync(`/srv/${'a'.repeat(90)}/${'b'.repeat(90)}/long-name-needs-pax.txt`, path.join(jail, 'srv', 'long-link'));
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('elfcopy image: an OCI layout skopeo and umoci read', () => {
  let layout = '';
  let digest = '';
  beforeAll(async () => {
    layout = path.join(tmp, 'oci');
    const r = await elfcopy(['image', jail, '--oci', layout, '--tag', 'elfcopy.test/nginx:1.0', '--entrypoint', JSON.stringify(ENTRYPOINT), '--user', 'www-data', '--expose', '80', '--env', 'TZ=UTC', '--label', 'org.opencontainers.image.title=nginx']);
    expect(r.exitCode, r.stderr).toBe(0);
    digest = r.stdout.trim();
  });

  it('skopeo inspect: amd64 linux, the digest elfcopy printed; the config has the entrypoint and the jail user uid:gid', () => {
    const info = inspect(`oci:${layout}:1.0`);
    expect(info.Architecture).toBe(os.arch() === 'x64' ? 'amd64' : os.arch());
    expect(info.Os).toBe('linux');
    expect(info.Digest).toBe(digest);
    const config = inspect(`oci:${layout}:1.0`, '--config') as { config: { Entrypoint: string[]; User: string; ExposedPorts: object; Env: string[]; Labels: object }; created: string };
    const passwd = fs.readFileSync(path.join(jail, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('www-data:'))?.split(':');
    expect(config.config.User).toBe(`${passwd?.[2]}:${passwd?.[3]}`);
    expect(config.config.Entrypoint).toEqual(ENTRYPOINT);
    expect(config.config.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(config.config.Env).toEqual(['TZ=UTC']);
    expect(config.config.Labels).toEqual({ 'org.opencontainers.image.title': 'nginx' });
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    const ann = indexOf(layout).manifests[0]?.annotations;
    expect(ann?.['org.opencontainers.image.ref.name']).toBe('1.0');
  });

  it('umoci unpack, then chroot ROOTFS /usr/sbin/nginx -t passes; devices, owners, modes, links and hard links are the jail\'s', () => {
    const bundle = path.join(tmp, 'bundle');
    const u = spawnSync('umoci', ['unpack', '--image', `${layout}:1.0`, bundle], { encoding: 'utf8' });
    expect(u.status, u.stderr).toBe(0);
    const rootfs = path.join(bundle, 'rootfs');
    const want = tree(jail);
    const got = tree(rootfs);
    for (const k of [...want.keys()]) if (k === '.elfcopy' || k.startsWith('.elfcopy/')) want.delete(k);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    let devices = 0;
    for (const [rel, w] of want) {
      if (rel === '') continue;
      const g = got.get(rel);
      const kind = (s: fs.Stats): string => (s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : s.isFile() ? 'f' : s.isCharacterDevice() ? 'c' : s.isBlockDevice() ? 'b' : s.isFIFO() ? 'p' : '?');
      expect({ rel, kind: g && kind(g), mode: g && g.mode & 0o7777, uid: g?.uid, gid: g?.gid }).toEqual({ rel, kind: kind(w), mode: w.mode & 0o7777, uid: w.uid, gid: w.gid });
      if (w.isCharacterDevice() || w.isBlockDevice()) {
        expect(g?.rdev, rel).toBe(w.rdev);
        devices++;
      }
      if (w.isSymbolicLink()) expect(fs.readlinkSync(path.join(rootfs, rel))).toBe(fs.readlinkSync(path.join(jail, rel)));
      if (w.isFile()) expect(g?.size, rel).toBe(w.size);
      if (g) expect(g.mtimeMs, rel).toBe(0);
    }
    expect(devices).toBeGreaterThanOrEqual(4);
    expect(got.get('etc/nginx/mime.types.hardlink')?.ino).toBe(got.get('etc/nginx/mime.types')?.ino);
    expect(fs.readFileSync(path.join(rootfs, 'srv', 'a'.repeat(90), 'b'.repeat(90), 'long-name-needs-pax.txt'), 'utf8')).toBe('pax\n');
    expect(fs.readFileSync(path.join(rootfs, 'srv', 'café.txt'), 'utf8')).toBe('utf-8 name\n');
    // Last: the test run leaves a pid file and temp directories behind.
    const t = spawnSync('chroot', [rootfs, '/usr/sbin/nginx', '-t'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
  });

  it('two runs, and a copy of the jail elsewhere, give the same manifest digest; another SOURCE_DATE_EPOCH gives another', async () => {
    const again = await elfcopy(['image', jail, '--oci', path.join(tmp, 'oci-again'), '--tag', 'elfcopy.test/nginx:1.0', '--entrypoint', JSON.stringify(ENTRYPOINT), '--user', 'www-data', '--expose', '80', '--env', 'TZ=UTC', '--label', 'org.opencontainers.image.title=nginx']);
    expect(again.stdout.trim()).toBe(digest);
    const moved = path.join(tmp, 'jail-moved');
    execFileSync('cp', ['-a', jail, moved]);
    const elsewhere = await elfcopy(['image', moved, '--oci', path.join(tmp, 'oci-moved'), '--tag', 'elfcopy.test/nginx:1.0', '--entrypoint', JSON.stringify(ENTRYPOINT), '--user', 'www-data', '--expose', '80', '--env', 'TZ=UTC', '--label', 'org.opencontainers.image.title=nginx']);
    expect(elsewhere.stdout.trim()).toBe(digest);
    fs.rmSync(moved, { recursive: true, force: true });
    const later = await elfcopy(['image', jail, '--oci', path.join(tmp, 'oci-later'), '--tag', 'elfcopy.test/nginx:1.0'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    expect(later.exitCode, later.stderr).toBe(0);
    expect((inspect(`oci:${path.join(tmp, 'oci-later')}:1.0`) as { Created: string }).Created).toBe('2023-11-14T22:13:20Z');
    // The gzip header carries no time (bytes 4-7) and the layer's tar mtimes are clamped to the epoch.
    const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const layer = fs.readFileSync(path.join(layout, 'blobs/sha256', manifest.layers[0]?.digest.slice(7) ?? ''));
    expect([...layer.subarray(0, 3)]).toEqual([0x1f, 0x8b, 8]);
    expect(layer.readUInt32LE(4)).toBe(0);
    const listing = execFileSync('tar', ['-tvzf', '-', '--numeric-owner'], { input: layer, encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(listing).not.toMatch(/\.elfcopy/);
    expect(listing.split('\n').filter(Boolean).every((l) => l.includes('1970-01-01 00:00'))).toBe(true);
  });

  it('PAX records only where ustar cannot hold a value (Python tarfile reads the headers)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const blob = path.join(layout, 'blobs/sha256', manifest.layers[0]?.digest.slice(7) ?? '');
    const py = `import tarfile, json, sys
with tarfile.open(sys.argv[1], 'r:gz') as t:
    print(json.dumps({m.name: [sorted(m.pax_headers.keys()), m.uid, m.gid, m.uname, m.gname, m.linkname] for m in t.getmembers()}))`;
    const members = JSON.parse(execFileSync('python3', ['-c', py, blob], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Record<string, [string[], number, number, string, string, string]>;
    // POSIX ustar: ASCII names of <= 100 bytes, or split at a '/' into a prefix <= 155 and a name <= 100;
    // link targets <= 100; ids of <= 7 octal digits. Anything else needs a PAX record, nothing else gets one.
    const ascii = (x: string): boolean => /^[\x00-\x7f]*$/.test(x);
    const fitsName = (n: string): boolean => ascii(n) && (n.length <= 100 || [...n].some((ch, i) => ch === '/' && i <= 155 && n.length - i - 1 <= 100));
    const needsPax = ([name, [, uid, gid, , , link]]: [string, [string[], number, number, string, string, string]]): boolean =>
      !fitsName(name) || !ascii(link) || link.length > 100 || uid > 0o7777777 || gid > 0o7777777;
    const entries = Object.entries(members);
    expect(entries.filter(([, [keys]]) => keys.length > 0).map(([n]) => n).sort()).toEqual(entries.filter(needsPax).map(([n]) => n).sort());
    const deep = `srv/${'a'.repeat(90)}/${'b'.repeat(90)}`;
    for (const n of [`${deep}/long-name-needs-pax.txt`, 'srv/big-ids', 'srv/café.txt', 'srv/long-link']) expect(members[n]?.[0].length, n).toBeGreaterThan(0);
    expect(members['srv/big-ids']?.[0]).toEqual(expect.arrayContaining(['uid', 'gid']));
    expect(members['srv/big-ids']?.slice(1, 3)).toEqual([3_000_000, 3_000_001]);
    // No names anywhere: numeric ids only.
    expect(Object.values(members).filter(([, , , u, g]) => u !== '' || g !== '')).toEqual([]);
  });

  it('--tar writes an OCI archive skopeo reads as oci-archive:, with the same manifest digest as the layout', async () => {
    const file = path.join(tmp, 'nginx.tar');
    const r = await elfcopy(['image', jail, '--tar', file, '--tag', 'elfcopy.test/nginx:1.0', '--entrypoint', JSON.stringify(ENTRYPOINT), '--user', 'www-data', '--expose', '80', '--env', 'TZ=UTC', '--label', 'org.opencontainers.image.title=nginx']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(digest);
    const info = inspect(`oci-archive:${file}`);
    expect(info.Digest).toBe(digest);
    expect(info.Architecture).toBe('amd64');
    const config = inspect(`oci-archive:${file}`, '--config') as { config: { Entrypoint: string[]; User: string } };
    expect(config.config.Entrypoint).toEqual(ENTRYPOINT);
    expect(config.config.User).toBe('33:33');
    const copied = spawnSync('skopeo', ['copy', `oci-archive:${file}`, `oci:${path.join(tmp, 'from-archive')}:x`], { encoding: 'utf8' });
    expect(copied.status, copied.stderr).toBe(0);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.elfcopy-tmp-'))).toEqual([]);
  });

  it('a second tag in the same layout keeps the first; the compression none layer is a plain tar', async () => {
    const r = await elfcopy(['image', jail, '--oci', layout, '--tag', 'elfcopy.test/nginx:plain', '--compression', 'none']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(indexOf(layout).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']).sort()).toEqual(['1.0', 'plain']);
    const m = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', r.stdout.trim().slice(7)), 'utf8')) as { layers: { mediaType: string }[] };
    expect(m.layers[0]?.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    expect(inspect(`oci:${layout}:1.0`).Digest).toBe(digest);
    const u = spawnSync('umoci', ['unpack', '--image', `${layout}:plain`, path.join(tmp, 'bundle-plain')], { encoding: 'utf8' });
    expect(u.status, u.stderr).toBe(0);
  });
});

describe('elfcopy image: the platform from the ELF files', () => {
  it('an arm64 jail copied from a crafted arm64 root is linux/arm64/v8', async () => {
    const root = path.join(tmp, 'arm64-root');
    const lib = path.join(root, 'usr/lib/aarch64-linux-gnu');
    fs.mkdirSync(lib, { recursive: true });
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    for (const l of ['bin', 'lib']) fs.symlinkSync(`usr/${l}`, path.join(root, l));
    const arm = (spec: Omit<Parameters<typeof craftElf>[0], 'elfClass' | 'byteOrder'>): Buffer => craftElf({ ...spec, elfClass: 64, byteOrder: 'little', machine: EM_AARCH64 }).bytes;
    fs.writeFileSync(path.join(lib, 'ld-linux-aarch64.so.1'), arm({ soname: 'ld-linux-aarch64.so.1' }), { mode: 0o755 });
    // Debian's layout: /lib/ld-linux-aarch64.so.1 -> aarch64-linux-gnu/ld-linux-aarch64.so.1.
    fs.symlinkSync('aarch64-linux-gnu/ld-linux-aarch64.so.1', path.join(root, 'usr/lib/ld-linux-aarch64.so.1'));
    fs.writeFileSync(path.join(lib, 'libc.so.6'), arm({ soname: 'libc.so.6', needed: ['ld-linux-aarch64.so.1'] }), { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'usr/bin/hello'), arm({ type: 3, interp: '/lib/ld-linux-aarch64.so.1', needed: ['libc.so.6'] }), { mode: 0o755 });
    const armJail = path.join(tmp, 'arm64-jail');
    fs.mkdirSync(armJail);
    const c = await elfcopy(['/usr/bin/hello', '--root', root, '--into', armJail, '--no-nss', '--quiet']);
    expect(c.exitCode, c.stderr).toBe(0);
    expect(fs.existsSync(path.join(armJail, 'usr/lib/aarch64-linux-gnu/libc.so.6'))).toBe(true);
    const out = path.join(tmp, 'oci-arm64');
    const r = await elfcopy(['image', armJail, '--oci', out, '--tag', 'hello:arm64']);
    expect(r.exitCode, r.stderr).toBe(0);
    const info = inspect(`oci:${out}:arm64`, '--raw') as { manifests?: unknown };
    expect(info.manifests).toBeUndefined();
    const config = inspect(`oci:${out}:arm64`, '--config', '--override-arch', 'arm64') as { architecture: string; variant?: string; os: string };
    expect({ architecture: config.architecture, variant: config.variant, os: config.os }).toEqual({ architecture: 'arm64', variant: 'v8', os: 'linux' });
    expect(indexOf(out).manifests[0]).toMatchObject({ platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } });
  });
});

describe('elfcopy image: bad input exits 2 with one line, leaving nothing half-written', () => {
  it('a directory that is not an elfcopy jail works, with a warning', async () => {
    const plain = path.join(tmp, 'plain-dir');
    fs.mkdirSync(path.join(plain, 'bin'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(plain, 'bin/true'));
    const r = await elfcopy(['image', plain, '--oci', path.join(tmp, 'oci-plain'), '--tag', 'plain']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^elfcopy: warning: .*no \/\.elfcopy\/manifest\.json/m);
    expect(inspect(`oci:${path.join(tmp, 'oci-plain')}:latest`).Architecture).toBe('amd64');
  });

  it('an invalid tag exits 2 with one line naming it, and writes nothing', async () => {
    for (const tag of ['Upper/Case:1', 'nginx:bad tag', 'nginx:-x', 'a@sha256:00', '']) {
      const out = path.join(tmp, 'oci-badtag');
      const r = await elfcopy(['image', jail, '--oci', out, '--tag', tag]);
      expect(r.exitCode, tag).toBe(2);
      expect(errorLines(r.stderr), tag).toHaveLength(1);
      expect(fs.existsSync(out), tag).toBe(false);
    }
  });

  it('bad option values exit 2 with one line naming them, and write nothing', async () => {
    const out = path.join(tmp, 'oci-badopt');
    const cases: [string[], RegExp][] = [
      [['--user', 'no-such-user'], /no-such-user: is not a user of the jail's \/etc\/passwd/],
      [['--user', 'www-data:no-such-group'], /no-such-group/],
      [['--entrypoint', 'nginx -g'], /--entrypoint nginx -g: not JSON/],
      [['--cmd', '{"a":1}'], /--cmd .*: give a JSON array of strings/],
      [['--expose', '99999'], /99999: is not a port/],
      [['--env', 'NOEQUALS'], /NOEQUALS: is not an environment entry/],
      [['--label', '=x'], /=x: is not a label/],
      [['--workdir', 'relative'], /relative: is not an absolute path/],
      [['--compression', 'zstd'], /--compression zstd: choose gzip or none/],
    ];
    for (const [args, line] of cases) {
      const r = await elfcopy(['image', jail, '--oci', out, '--tag', 'x', ...args]);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(errorLines(r.stderr), args.join(' ')).toEqual([expect.stringMatching(line)]);
      expect(fs.existsSync(out), args.join(' ')).toBe(false);
    }
    const root = await elfcopy(['image', '/', '--oci', out, '--tag', 'x']);
    expect(root.exitCode).toBe(2);
    expect(errorLines(root.stderr)).toEqual([expect.stringMatching(/host's root directory, not a jail/)]);
  });

  it('an existing output directory that is not a layout is refused and left as it was', async () => {
    const out = path.join(tmp, 'not-a-layout');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'precious'), 'keep me');
    const r = await elfcopy(['image', jail, '--oci', out, '--tag', 'x']);
    expect(r.exitCode).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/not-a-layout: exists, is not empty and is not an OCI image layout/)]);
    expect(fs.readdirSync(out)).toEqual(['precious']);
  });

  /** A jail of one file (/bin/true) and a valid image layout of it at LAYOUT; the jail's path. */
  async function tinyLayout(tiny: string, layout: string): Promise<string> {
    fs.mkdirSync(path.join(tiny, 'bin'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(tiny, 'bin/true'));
    const ok = await elfcopy(['image', tiny, '--oci', layout, '--tag', 'tiny']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    return tiny;
  }

  it('a full disk mid-write exits 3 (as a full jail does) with one line naming the output, and leaves nothing at the final path: no layout made, an existing layout unchanged, no archive', async () => {
    const mnt = path.join(tmp, 'small');
    await withTmpfs(mnt, '2m', async () => {
      // An existing, valid layout of a small image first; then the big one fails into it.
      await tinyLayout(path.join(tmp, 'tiny-jail'), path.join(mnt, 'layout'));
      const before = tree(path.join(mnt, 'layout'));
      const indexBefore = fs.readFileSync(path.join(mnt, 'layout/index.json'), 'utf8');
      for (const args of [['--oci', path.join(mnt, 'layout')], ['--oci', path.join(mnt, 'fresh')], ['--tar', path.join(mnt, 'img.tar')]]) {
        const r = await elfcopy(['image', jail, ...args, '--tag', 'big', '--compression', 'none']);
        expect(r.exitCode, args.join(' ')).toBe(3);
        expect(errorLines(r.stderr), args.join(' ')).toEqual([`elfcopy: ${args[1] ?? ''}: cannot be written: no space left on device (ENOSPC); nothing was changed there`]);
      }
      // The SBOM of an image that fails is not left behind either (the SBOM itself fits).
      const bom = path.join(tmp, 'big-bom.json');
      const withSbom = await elfcopy(['image', jail, '--oci', path.join(mnt, 'fresh'), '--tag', 'big', '--compression', 'none', '--sbom', bom]);
      expect(withSbom.exitCode).toBe(3);
      expect(fs.existsSync(bom)).toBe(false);
      expect(fs.readFileSync(path.join(mnt, 'layout/index.json'), 'utf8')).toBe(indexBefore);
      expect([...tree(path.join(mnt, 'layout')).keys()].sort()).toEqual([...before.keys()].sort());
      expect(fs.readdirSync(mnt).sort()).toEqual(['layout']);
      expect(inspect(`oci:${path.join(mnt, 'layout')}:latest`).Architecture).toBe('amd64');
    });
  });

  it('a read-only output file system exits 3 with one line naming the output (EROFS), for a layout, an existing layout and an archive', async () => {
    const mnt = path.join(tmp, 'readonly');
    await withTmpfs(mnt, '4m', async () => {
      const tiny = await tinyLayout(path.join(tmp, 'tiny-jail-ro'), path.join(mnt, 'layout'));
      const before = tree(mnt);
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      for (const args of [['--oci', path.join(mnt, 'layout')], ['--oci', path.join(mnt, 'fresh')], ['--tar', path.join(mnt, 'img.tar')]]) {
        const r = await elfcopy(['image', tiny, ...args, '--tag', 'again']);
        expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(3);
        expect(errorLines(r.stderr), args.join(' ')).toEqual([`elfcopy: ${args[1] ?? ''}: cannot be written: read-only file system (EROFS); nothing was changed there`]);
      }
      expect([...tree(mnt).keys()].sort()).toEqual([...before.keys()].sort());
    });
  });
});
