/**
 * One options model (issue 15): every command that resolves parses the machine options the same way
 * (resolver-options.ts), so what deps refuses, copy and verify refuse too; and the defaults the help
 * shows are the library's (jail-copy's DEFAULTS).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '@elfcopy/jail-copy';
import { elfcopy } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-options-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('machine options, parsed once for deps, copy and verify', () => {
  it('copy --hwcaps ../evil --dry-run is refused as deps refuses it, and no jail is made', async () => {
    const jail = path.join(tmp, 'jail-hwcaps');
    const deps = await elfcopy(['deps', '--hwcaps', '../evil', '/usr/bin/true']);
    const copy = await elfcopy(['/usr/bin/true', '--into', jail, '--hwcaps', '../evil', '--dry-run']);
    expect(deps.exitCode).toBe(2);
    expect(copy.exitCode).toBe(2);
    expect(copy.stderr).toContain("--hwcaps: '../evil' is not a hwcaps level name");
    expect(copy.stdout).toBe('');
    expect(fs.existsSync(jail)).toBe(false);
  });

  it('copy --platform with a path in it is refused', async () => {
    const r = await elfcopy(['/usr/bin/true', '--into', path.join(tmp, 'jail-platform'), '--platform', 'a/b', '--dry-run']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--platform: 'a/b' is not a platform name");
  });

  it('verify takes --hwcaps, --platform, --cpu-vendor and --cpuinfo, and checks them as deps does', async () => {
    const jail = path.join(tmp, 'jail-verify');
    expect((await elfcopy(['/usr/bin/true', '--into', jail, '--with', 'none', '-q'])).exitCode).toBe(0);
    const ok = await elfcopy(['verify', jail, '--hwcaps', 'none', '--platform', 'x86_64', '--cpu-vendor', 'amd']);
    expect(ok.stderr).not.toMatch(/unknown option/);
    expect(ok.exitCode).toBe(0);
    const bad = await elfcopy(['verify', jail, '--hwcaps', '../evil']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--hwcaps: '../evil' is not a hwcaps level name");
    const noCpuinfo = await elfcopy(['verify', jail, '--cpuinfo', path.join(tmp, 'missing')]);
    expect(noCpuinfo.exitCode).toBe(2);
    expect(noCpuinfo.stderr).toContain('--cpuinfo');
  });

  it("the help's defaults are the library's", async () => {
    expect((await elfcopy(['copy', '--help'])).stdout).toContain(`parallel copies (default: "${DEFAULTS.jobs}")`);
    expect((await elfcopy(['trace', '--help'])).stdout).toContain(`(default: "${DEFAULTS.traceTimeoutSeconds}")`);
    expect((await elfcopy(['audit', '--help'])).stdout).toContain(`(default: "${DEFAULTS.failOn}")`);
  });
});
