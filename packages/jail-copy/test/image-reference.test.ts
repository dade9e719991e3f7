/**
 * Image references against skopeo's own parser (the distribution reference grammar): `skopeo copy` to a
 * docker-archive destination parses NAME:TAG offline and refuses an invalid one. parseReference must
 * accept exactly what skopeo accepts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, ImageError } from '../src/index.js';
import { parseReference } from '../src/internal.js';
import { tempDir } from './helpers/jail.js';

let tmp = '';
let layout = '';

beforeAll(async () => {
  if (spawnSync('skopeo', ['--version']).status !== 0) throw new Error('skopeo is not installed: .ci/run installs it (scripts/test-packages.txt)');
  tmp = tempDir('image-ref');
  const jail = path.join(tmp, 'jail');
  fs.mkdirSync(path.join(jail, 'bin'), { recursive: true });
  fs.copyFileSync('/usr/bin/true', path.join(jail, 'bin/true'));
  layout = path.join(tmp, 'oci');
  await buildImage(jail, { oci: layout, tag: 'x:y' });
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Whether skopeo's reference parser accepts `ref` as a docker-archive destination name. */
function skopeoAccepts(ref: string, n: number): boolean {
  const r = spawnSync('skopeo', ['copy', `oci:${layout}:y`, `docker-archive:${path.join(tmp, `out-${n}.tar`)}:${ref}`], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return true;
  if (/invalid reference format|must be lowercase|Invalid image name|tag must|repository name/i.test(r.stderr)) return false;
  throw new Error(`skopeo failed for another reason on ${ref}: ${r.stderr}`);
}

const ours = (ref: string): boolean => {
  try {
    parseReference(ref);
    return true;
  } catch (err) {
    if (err instanceof ImageError) return false;
    throw err;
  }
};

describe('parseReference agrees with skopeo', () => {
  const refs = [
    'nginx:1.25',
    'example.org/team/nginx:v1',
    'localhost:5000/a/b:latest',
    'a--b:1',
    'a__b:1',
    'a___b:1',
    'a.b_c-d/e:1',
    'Upper/case:1',
    'Example.com/nginx:1',
    'nginx:bad tag',
    'nginx:-x',
    'nginx:.x',
    'nginx:_x',
    `nginx:${'t'.repeat(128)}`,
    `nginx:${'t'.repeat(129)}`,
    'a/b/c/d/e:f',
    '-nginx:1',
    'nginx-:1',
    'ngi..nx:1',
    'exa_mple.org/x:1',
    '[::1]:5000/x:1',
  ];
  it.each(refs.map((r, i) => [r, i] as const))('%s', (ref, i) => {
    expect(ours(ref)).toBe(skopeoAccepts(ref, i));
  });

  it('a name without a tag is NAME:latest; a digest is refused', () => {
    expect(parseReference('example.org:5000/nginx')).toEqual({ name: 'example.org:5000/nginx', tag: 'latest' });
    expect(() => parseReference('nginx@sha256:' + '0'.repeat(64))).toThrow(ImageError);
  });
});
