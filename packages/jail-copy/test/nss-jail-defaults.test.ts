/**
 * The NSS configuration a copy plans for is the one glibc will use in the jail: the jail's own
 * /etc/nsswitch.conf, or — without one — glibc's built-in defaults (nss_database.c), never the host's
 * file. So a jail without nsswitch.conf gets no warning about the host's `db` and `nis` services, on a
 * fresh or a reused plan; a jail with the host's file gets exactly those. Oracle: glibc itself in the
 * jail — `LD_DEBUG=files chroot JAIL getent DATABASE KEY` prints every NSS module libc tries to load.
 * A path a profile names that is a dangling link on the host is reported as one.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCopy } from '../src/index.js';
import { elfcopy, requireRoot, tempDir } from './helpers/jail.js';

const tmp = tempDir('nss-defaults');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => requireRoot());

/** One lookup in each database getent knows and nsswitch.conf configures. */
const LOOKUPS: [string, string][] = [
  ['passwd', 'root'],
  ['group', 'root'],
  ['shadow', 'root'],
  ['hosts', 'localhost'],
  ['networks', 'loopback'],
  ['protocols', 'tcp'],
  ['services', 'ssh'],
  ['ethers', 'nothere'],
  ['rpc', 'portmapper'],
  ['netgroup', 'nothere'],
];

/** The NSS services glibc in the jail tries to load a module for (libnss_X.so.2), over every lookup. */
function servicesGlibcLoads(jail: string): string[] {
  const tried = new Set<string>();
  for (const [db, key] of LOOKUPS) {
    const r = spawnSync('chroot', [jail, '/usr/bin/getent', db, key], { encoding: 'utf8', env: { ...process.env, LD_DEBUG: 'files' }, timeout: 30_000 });
    for (const m of r.stderr.matchAll(/file=libnss_([A-Za-z0-9_]+)\.so\.2 \[\d+\];\s+dynamically loaded/g)) if (m[1]) tried.add(m[1]);
  }
  return [...tried].sort();
}

/** The NSS services a copy's output warns have no module. */
function warnedServices(stderr: string): string[] {
  return [...stderr.matchAll(/names service '([^']+)' for .* but libnss_\S+ is not on this machine/g)].map((m) => m[1] ?? '').sort();
}

function etcFiles(jail: string): void {
  fs.mkdirSync(path.join(jail, 'etc'), { recursive: true });
  for (const f of ['passwd', 'group', 'services', 'protocols', 'hosts', 'networks', 'rpc']) {
    if (fs.existsSync(`/etc/${f}`)) fs.copyFileSync(`/etc/${f}`, path.join(jail, 'etc', f));
  }
}

describe('NSS: the configuration glibc will use in the jail', () => {
  it('a jail without nsswitch.conf: no warning about the host file, fresh or reused, and glibc there loads no module', async () => {
    const jail = path.join(tmp, 'none');
    fs.mkdirSync(jail);
    for (let run = 0; run < 2; run++) {
      const r = await elfcopy(['/usr/bin/getent', '--into', jail, '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr, `run ${run + 1}`).not.toMatch(/nsswitch|libnss/);
      if (run === 1) expect((JSON.parse(r.stdout) as { planReused: boolean }).planReused).toBe(true);
    }
    const plan = JSON.parse((await elfcopy(['/usr/bin/getent', '--into', jail, '--dry-run', '--json'])).stdout) as { nss: { source: string; modules: { service: string }[]; unavailable: unknown[] } };
    expect(plan.nss.source).toBe('default');
    etcFiles(jail);
    const tried = servicesGlibcLoads(jail);
    // The oracle: what glibc loads in the jail is what the plan brought (nothing on glibc ≥ 2.34).
    expect(tried).toEqual(plan.nss.modules.map((m) => m.service).sort());
    expect(plan.nss.unavailable).toEqual([]);
  });

  it("a jail with the host's nsswitch.conf: warnings name exactly the services glibc there tries and cannot find", async () => {
    const jail = path.join(tmp, 'host-file');
    etcFiles(jail);
    fs.copyFileSync('/etc/nsswitch.conf', path.join(jail, 'etc', 'nsswitch.conf'));
    const r = await elfcopy(['/usr/bin/getent', '--into', jail]);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse((await elfcopy(['/usr/bin/getent', '--into', jail, '--dry-run', '--json'])).stdout) as { nss: { source: string; modules: { service: string }[] } };
    expect(plan.nss.source).toBe(path.join(jail, 'etc', 'nsswitch.conf'));
    const tried = servicesGlibcLoads(jail);
    const brought = plan.nss.modules.map((m) => m.service);
    const warned = warnedServices(r.stderr);
    expect(warned.length, 'the host file names db and nis, which Debian does not ship').toBeGreaterThan(0);
    // Every module glibc tries is either brought or warned about; every warning is one glibc tries.
    for (const s of tried) expect(brought.includes(s) || warned.includes(s), `glibc tries ${s}`).toBe(true);
    for (const s of warned) expect(tried, `warned about ${s}`).toContain(s);
  });

  it('a path a profile names that is a dangling link on the host is reported as one', () => {
    const root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'usr', 'share', 'x'), { recursive: true });
    fs.symlinkSync('../../lib/x/modules', path.join(root, 'usr', 'share', 'x', 'modules'));
    const plan = planCopy([], path.join(tmp, 'unused'), { root, extraFiles: [{ path: '/usr/share/x/modules', reason: 'test' }, { path: '/usr/share/x/modules/a.so', reason: 'test' }] });
    expect(plan.warnings).toEqual([
      '/usr/share/x/modules: is a dangling symbolic link on the host (-> ../../lib/x/modules), not copied',
      '/usr/share/x/modules/a.so: not on the host (/usr/share/x/modules is a dangling symbolic link there), not copied',
    ]);
  });
});
