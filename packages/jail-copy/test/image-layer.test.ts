/**
 * The layer writer's records against Python's tarfile (an independent tar reader): device numbers past
 * the old 8-bit split (the kernel's dev_t encoding), FIFOs, directory modes and owners, hard links to the
 * first name; a socket left out with a warning; /.elfcopy never in the layer.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, JailCopyError } from '../src/index.js';
import { Jail, jailTree } from '../src/internal.js';
import { openJailFile } from '../src/output/jail-tree.js';
import { requireRoot, tempDir } from './helpers/jail.js';

let tmp = '';

interface Member {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  devmajor: number;
  devminor: number;
  linkname: string;
  mtime: number;
}

/** Every member of a gzip'd tar as Python's tarfile reads it. */
function members(blob: string): Record<string, Member> {
  const py = `import tarfile, json, sys
kinds = {tarfile.REGTYPE: 'file', tarfile.DIRTYPE: 'dir', tarfile.SYMTYPE: 'symlink', tarfile.LNKTYPE: 'hardlink', tarfile.CHRTYPE: 'char', tarfile.BLKTYPE: 'block', tarfile.FIFOTYPE: 'fifo'}
with tarfile.open(sys.argv[1], 'r:*') as t:
    print(json.dumps({m.name: {'type': kinds.get(m.type, repr(m.type)), 'mode': m.mode, 'uid': m.uid, 'gid': m.gid, 'devmajor': m.devmajor, 'devminor': m.devminor, 'linkname': m.linkname, 'mtime': m.mtime} for m in t.getmembers()}))`;
  return JSON.parse(execFileSync('python3', ['-c', py, blob], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Record<string, Member>;
}

function layerOf(layout: string, manifestDigest: string): string {
  const m = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', manifestDigest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  return path.join(layout, 'blobs/sha256', m.layers[0]?.digest.slice(7) ?? '');
}

beforeAll(() => {
  requireRoot();
  tmp = tempDir('image-layer');
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the layer: what a jail holds, as tar records', () => {
  it('devices (major 300, minor 70000), FIFOs, directory modes and owners, hard links, mtimes clamped; a socket left out', async () => {
    const jail = path.join(tmp, 'jail');
    fs.mkdirSync(path.join(jail, 'bin'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(jail, 'bin/true'));
    fs.mkdirSync(path.join(jail, 'dev'));
    execFileSync('mknod', ['-m', '0620', path.join(jail, 'dev/odd'), 'c', '300', '70000']);
    execFileSync('mknod', ['-m', '0600', path.join(jail, 'dev/blk'), 'b', '7', '3']);
    execFileSync('mkfifo', ['-m', '0610', path.join(jail, 'fifo')]);
    fs.mkdirSync(path.join(jail, 'srv'), { mode: 0o750 });
    fs.chmodSync(path.join(jail, 'srv'), 0o2750);
    fs.chownSync(path.join(jail, 'srv'), 33, 34);
    fs.linkSync(path.join(jail, 'bin/true'), path.join(jail, 'bin/also-true'));
    fs.mkdirSync(path.join(jail, '.elfcopy'));
    fs.writeFileSync(path.join(jail, '.elfcopy/manifest.json'), '{}');
    fs.utimesSync(path.join(jail, 'bin/true'), 1_000, 1_000);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(jail, 'sock'), resolve));
    try {
      const layout = path.join(tmp, 'oci');
      const r = await buildImage(jail, { oci: layout, tag: 'layer:test', sourceDateEpoch: 5_000 });
      expect(r.warnings.some((w) => w.includes('/sock') && w.includes('socket'))).toBe(true);
      const m = members(layerOf(layout, r.manifest.digest));
      expect(m['dev/odd']).toMatchObject({ type: 'char', devmajor: 300, devminor: 70000, mode: 0o620 });
      expect(m['dev/blk']).toMatchObject({ type: 'block', devmajor: 7, devminor: 3, mode: 0o600 });
      expect(m['fifo']).toMatchObject({ type: 'fifo', mode: 0o610 });
      expect(m['srv']).toMatchObject({ type: 'dir', mode: 0o2750, uid: 33, gid: 34 });
      // The second name of the inode (in byte order: also-true < true) is a hard link to the first.
      expect(m['bin/also-true']?.type).toBe('file');
      expect(m['bin/true']).toMatchObject({ type: 'hardlink', linkname: 'bin/also-true' });
      expect(Object.keys(m).filter((k) => k.startsWith('.elfcopy') || k === 'sock')).toEqual([]);
      expect(m['bin/also-true']?.mtime).toBe(1_000);
      expect(Object.values(m).every((x) => x.mtime <= 5_000)).toBe(true);
    } finally {
      server.close();
    }
  });

  it('a directory swapped for a link to the host after the walk never leads a read to a host file', () => {
    const jail = path.join(tmp, 'swap');
    fs.mkdirSync(path.join(jail, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(jail, 'etc/passwd'), 'jail\n');
    const entry = jailTree(jail).find((e) => e.path === '/etc/passwd');
    expect(entry).toBeDefined();
    // What a process in the jail could do while the image is written: /etc becomes a link to the host's.
    fs.renameSync(path.join(jail, 'etc'), path.join(jail, 'etc.old'));
    fs.symlinkSync('/etc', path.join(jail, 'etc'));
    const j = Jail.open(jail);
    expect(() => entry && openJailFile(j, entry)).toThrow(JailCopyError);
    // A link inside the jail resolves inside it: the jail's own file, the same inode, is still read.
    fs.rmSync(path.join(jail, 'etc'));
    fs.symlinkSync('etc.old', path.join(jail, 'etc'));
    const fd = entry && openJailFile(j, entry);
    expect(typeof fd).toBe('number');
    if (typeof fd === 'number') {
      expect(fs.readFileSync(fd, 'utf8')).toBe('jail\n');
      fs.closeSync(fd);
    }
  });
});
