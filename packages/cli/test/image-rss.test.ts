/**
 * The layer streams: imaging a 1 GiB jail (sparse files, so the test is quick: reading and gzipping
 * zeros is fast, but every byte still passes through the tar writer, the hashes and gzip) peaks under
 * 150 MB RSS, as GNU time measures the whole process. A writer that held the layer in memory would
 * need more than 1 GiB. `npm run bench -- --only IMG` measures the same with incompressible data.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ELFCOPY } from './helpers.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-image-rss-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('elfcopy image streams its layer', () => {
  it('a 1 GiB jail peaks under 150 MB RSS, and the layer holds every byte', () => {
    if (!fs.existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing: .ci/run installs it (scripts/test-packages.txt: time)');
    const jail = path.join(tmp, 'jail');
    fs.mkdirSync(path.join(jail, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(jail, 'data'));
    fs.copyFileSync('/usr/bin/true', path.join(jail, 'bin/true'));
    for (let i = 0; i < 4; i++) {
      const f = path.join(jail, 'data', `zeros-${i}`);
      fs.writeFileSync(f, '');
      fs.truncateSync(f, 256 * 1024 * 1024);
    }
    const timeFile = path.join(tmp, 'time');
    const out = path.join(tmp, 'oci');
    execFileSync('/usr/bin/time', ['-f', '%M', '-o', timeFile, 'node', ELFCOPY, 'image', jail, '--oci', out, '--tag', 'rss:1g'], { stdio: 'ignore', timeout: 300_000 });
    const rssMb = Number(fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()) / 1024;
    expect(rssMb).toBeGreaterThan(10);
    expect(rssMb).toBeLessThan(150);
    // The layer really carried the 1 GiB: the uncompressed tar is larger.
    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'blobs/sha256', index.manifests[0]?.digest.slice(7) ?? ''), 'utf8')) as { layers: { digest: string }[] };
    const layer = path.join(out, 'blobs/sha256', manifest.layers[0]?.digest.slice(7) ?? '');
    const listed = execFileSync('sh', ['-c', 'gzip -dc "$1" | wc -c', 'sh', layer], { encoding: 'utf8' });
    expect(Number(listed.trim())).toBeGreaterThan(1024 * 1024 * 1024);
  }, 300_000);
});
