/**
 * examples/nginx-php/jail.sh image: the article's nginx + php-fpm jail, built by the script, as an OCI
 * image skopeo reads, whose unpacked root passes nginx's configuration test of the site, with the SBOM
 * beside it that the manifest names.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELFCOPY } from './helpers.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'nginx-php', 'jail.sh');
let tmp = '';
let env: NodeJS.ProcessEnv;

function run(cmd: string): { status: number | null; out: string } {
  const r = spawnSync('bash', [script, cmd], { env, encoding: 'utf8', timeout: 280_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  for (const p of ['/usr/sbin/nginx', '/usr/sbin/php-fpm8.2', '/usr/bin/php8.2']) {
    if (!fs.existsSync(p)) throw new Error(`${p} is not installed: .ci/run installs nginx and php8.2-fpm`);
  }
  if (process.getuid?.() !== 0) throw new Error('the example builds a jail with device nodes: run it as root (CI does)');
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-image-example-')));
  env = { ...process.env, JAIL: path.join(tmp, 'jail'), IMAGE: path.join(tmp, 'image'), PORT: '8081', ELFCOPY: `node ${ELFCOPY}` };
  const b = run('build');
  expect(b.status, b.out).toBe(0);
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('examples/nginx-php/jail.sh image', () => {
  it('writes the jail as an OCI image skopeo reads, its SBOM beside it, and nginx -t of the site passes in the unpacked root', () => {
    const r = run('image');
    expect(r.status, r.out).toBe(0);
    const layout = path.join(tmp, 'image');
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${layout}:latest`], { encoding: 'utf8' })) as { architecture: string; config: { Entrypoint: string[]; ExposedPorts: object } };
    expect(config.architecture).toBe('amd64');
    expect(config.config.Entrypoint).toEqual(['/usr/sbin/nginx', '-g', 'daemon off;', '-c', '/etc/nginx/elfcopy-site.conf']);
    expect(config.config.ExposedPorts).toEqual({ '8081/tcp': {} });
    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${layout}:latest`], { encoding: 'utf8' })) as { annotations: Record<string, string> };
    const sbom = fs.readFileSync(`${layout}.cdx.json`);
    expect(raw.annotations['dev.elfcopy.sbom.digest']).toBe(`sha256:${createHash('sha256').update(sbom).digest('hex')}`);
    const bundle = path.join(tmp, 'bundle');
    const u = spawnSync('umoci', ['unpack', '--image', `${layout}:latest`, bundle], { encoding: 'utf8' });
    expect(u.status, u.stderr).toBe(0);
    const t = spawnSync('chroot', [path.join(bundle, 'rootfs'), '/usr/sbin/nginx', '-t', '-c', '/etc/nginx/elfcopy-site.conf'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    const f = spawnSync('chroot', [path.join(bundle, 'rootfs'), '/usr/sbin/php-fpm8.2', '-t', '--fpm-config', '/etc/php/8.2/fpm/elfcopy-pool.conf'], { encoding: 'utf8' });
    expect(f.status, f.stderr).toBe(0);

    // "Loaded by": php-fpm dlopens the extensions its conf.d enables (the ini files are the oracle).
    const bom = JSON.parse(sbom.toString('utf8')) as { components: { name: string; type: string; 'bom-ref': string; components?: { name: string; 'bom-ref': string }[] }[]; dependencies: { ref: string; dependsOn?: string[] }[] };
    const files = bom.components.flatMap((c) => (c.type === 'file' ? [c] : (c.components ?? [])));
    const ref = (p: string): string | undefined => files.find((c) => c.name === p)?.['bom-ref'];
    const confd = path.join(tmp, 'jail/etc/php/8.2/fpm/conf.d');
    const extensions = fs
      .readdirSync(confd)
      .map((n) => fs.readFileSync(path.join(confd, n), 'utf8'))
      .flatMap((t) => [...t.matchAll(/^\s*(?:zend_)?extension\s*=\s*"?([\w.-]+?)(?:\.so)?"?\s*$/gm)].map((m) => m[1] ?? ''));
    expect(extensions.length).toBeGreaterThan(5);
    const fpmDeps = bom.dependencies.find((d) => d.ref === ref('/usr/sbin/php-fpm8.2'))?.dependsOn ?? [];
    const extDir = fs.readdirSync(path.join(tmp, 'jail/usr/lib/php')).find((d) => /^\d{8}$/.test(d));
    for (const e of extensions) expect(fpmDeps, e).toContain(ref(`/usr/lib/php/${extDir}/${e}.so`));
  });
});
