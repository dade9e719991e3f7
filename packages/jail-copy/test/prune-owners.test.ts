/**
 * `--prune` removes only what an earlier run of the same installer put in the jail, that this run no
 * longer needs, and that no other installer claims: init's skeleton (/etc/hosts, resolv.conf, services,
 * the --writable directories) survives any copy's prune, another copy's input set keeps its files, and
 * entries from a manifest that recorded no owners are kept. The dry run lists exactly the removals the
 * run makes (same paths, same count), also after a reused plan. Oracles: the file system itself (lstat
 * of every path init laid out), `chroot JAIL prog`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy, manifestPath, readManifest, requireRoot, tempDir } from './helpers/jail.js';

const tmp = tempDir('prune-owners');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => requireRoot());

async function ok(args: string[]): Promise<string> {
  const r = await elfcopy(args);
  if (r.exitCode !== 0) throw new Error(`elfcopy ${args.join(' ')}: exit ${r.exitCode}\n${r.stderr}`);
  return r.stdout;
}

interface DryPlan {
  prune: { op: 'remove'; path: string }[];
}

/** Paths below `root` (links not followed), '/'-rooted, sorted. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(path.join(root, rel))) {
      const p = path.posix.join(rel, n);
      out.push(p);
      if (fs.lstatSync(path.join(root, p)).isDirectory()) walk(p);
    }
  };
  walk('/');
  return out.sort();
}

describe('--prune and the installers recorded in the manifest', () => {
  it("init's skeleton survives a copy's prune, and the dry run lists exactly the run's removals", async () => {
    const j = path.join(tmp, 'issue');
    await ok(['init', j, '--user', 'www-data', '--writable', 'www-data:/var/lib/nginx,/var/log/nginx', '-q']);
    const skeleton = tree(j).filter((p) => !p.startsWith('/.elfcopy'));
    for (const p of ['/etc/hosts', '/etc/resolv.conf', '/etc/services', '/var/lib/nginx', '/var/log/nginx']) expect(skeleton).toContain(p);
    await ok(['/usr/sbin/nginx', '--into', j, '--with', 'auto', '-q']);
    // A second identical run reuses its plan: the prune after it must still see what to remove.
    await ok(['/usr/sbin/nginx', '--into', j, '--with', 'auto', '-q']);
    const before = tree(j);

    const dry = JSON.parse(await ok(['/usr/sbin/nginx', '--into', j, '--with', 'resolver', '--prune', '--dry-run', '--json'])) as DryPlan;
    const text = (await elfcopy(['/usr/sbin/nginx', '--into', j, '--with', 'resolver', '--prune', '--dry-run'])).stdout.split('\n').filter((l) => l.startsWith('remove '));
    expect(tree(j)).toEqual(before);
    expect(dry.prune.length).toBeGreaterThan(50);
    expect(text).toHaveLength(dry.prune.length);

    const run = JSON.parse(await ok(['/usr/sbin/nginx', '--into', j, '--with', 'resolver', '--prune', '--json'])) as { pruned: string[] };
    expect(run.pruned).toEqual(dry.prune.map((s) => s.path));
    // What left the jail is exactly what the run says it removed.
    const after = new Set(tree(j));
    expect(before.filter((p) => !after.has(p)).sort()).toEqual([...run.pruned].sort());
    for (const p of skeleton) expect(after.has(p), `${p} (init made it)`).toBe(true);
    expect(spawnSync('chroot', [j, '/usr/sbin/nginx', '-V']).status).toBe(0);
    // Nothing is left to prune: the dry run says so, and so does the run.
    const again = JSON.parse(await ok(['/usr/sbin/nginx', '--into', j, '--with', 'resolver', '--prune', '--dry-run', '--json'])) as DryPlan;
    expect(again.prune).toEqual([]);
  });

  it('a file edited or a link changed since elfcopy installed it is kept, with one warning line each', async () => {
    const j = path.join(tmp, 'edited');
    await ok(['/usr/sbin/nginx', '--into', j, '--with', 'nginx', '-q']);
    const conf = path.join(j, 'etc/nginx/nginx.conf');
    fs.appendFileSync(conf, '# my change\n');
    const mime = path.join(j, 'etc/nginx/mime.types');
    fs.rmSync(mime);
    fs.symlinkSync('/etc/mime.types', mime);
    const args = ['/usr/sbin/nginx', '--into', j, '--with', 'resolver', '--prune'];
    const dry = JSON.parse(await ok([...args, '--dry-run', '--json'])) as DryPlan;
    const r = await elfcopy([...args, '--json']);
    expect(r.exitCode).toBe(0);
    const pruned = (JSON.parse(r.stdout) as { pruned: string[] }).pruned;
    expect(pruned).toEqual(dry.prune.map((s) => s.path));
    expect(pruned).not.toContain('/etc/nginx/nginx.conf');
    expect(pruned).toContain('/etc/nginx/fastcgi.conf');
    expect(fs.readFileSync(conf, 'utf8')).toMatch(/# my change\n$/);
    expect(fs.readlinkSync(mime)).toBe('/etc/mime.types');
    expect(r.stderr).toContain('elfcopy: warning: /etc/nginx/nginx.conf: changed since elfcopy installed it, so --prune keeps it');
    expect(r.stderr).toContain('elfcopy: warning: /etc/nginx/mime.types: changed since elfcopy installed it, so --prune keeps it');
  });

  it("a copy's prune never removes what another copy's input set installed", async () => {
    const j = path.join(tmp, 'two-sets');
    await ok(['/usr/bin/ls', '--into', j, '--no-nss', '-q']);
    const ls = readManifest(j).entries.map((e) => e.path);
    await ok(['/usr/bin/true', '--into', j, '--no-nss', '--with', 'zoneinfo', '-q']);
    const r = JSON.parse(await ok(['/usr/bin/true', '--into', j, '--no-nss', '--with', 'resolver', '--prune', '--json'])) as { pruned: string[] };
    expect(r.pruned).toContain('/usr/share/zoneinfo/UTC');
    for (const p of ls) expect(fs.lstatSync(path.join(j, p), { throwIfNoEntry: false }), p).toBeDefined();
    expect(spawnSync('chroot', [j, '/usr/bin/ls', '/']).status).toBe(0);
    // And the other way round: ls's prune leaves true's files.
    const r2 = JSON.parse(await ok(['/usr/bin/ls', '--into', j, '--no-nss', '--prune', '--json'])) as { pruned: string[] };
    expect(r2.pruned).toEqual([]);
    expect(spawnSync('chroot', [j, '/usr/bin/true']).status).toBe(0);
  });

  it('a manifest from before owners were recorded: init entries stay, copy entries are kept with a warning, and the file stays readable', async () => {
    const j = path.join(tmp, 'legacy');
    await ok(['init', j, '--user', 'www-data', '-q']);
    await ok(['/usr/bin/true', '--into', j, '--no-nss', '--with', 'zoneinfo', '-q']);
    // The format an older elfcopy wrote: `by` only.
    const m = readManifest(j);
    const legacy = { schema: m.schema, generator: m.generator, entries: m.entries.map(({ owners, ...e }) => ({ ...e, by: owners?.includes('init') ? 'init' : 'copy' })) };
    fs.writeFileSync(manifestPath(j), JSON.stringify(legacy, null, 2) + '\n', { mode: 0o600 });
    const before = tree(j);
    const r = await elfcopy(['/usr/bin/true', '--into', j, '--no-nss', '--with', 'resolver', '--prune', '--json']);
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout) as { pruned: string[] }).pruned).toEqual([]);
    expect(r.stderr).toMatch(/warning: --prune keeps \d+ paths an older elfcopy installed without recording for which copy/);
    const after = tree(j);
    for (const p of before.filter((x) => !x.startsWith('/.elfcopy'))) expect(after, p).toContain(p);
    // The rewritten manifest still tells an older elfcopy which entries are init's.
    for (const e of readManifest(j).entries) if (e.owners?.includes('init')) expect(e.by, e.path).toBe('init');
  });
});
