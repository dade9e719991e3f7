/**
 * `--into JAIL`: an existing directory, or a missing last component whose parent exists (made as cp
 * and rsync make their destination); a missing path deeper than that is refused, and a run refused
 * for bad input makes no jail at all. The help says the same.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { elfcopy } from './helpers.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-into-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--into creates the last component only', () => {
  it('a missing jail whose parent exists is created, and the copy runs', async () => {
    const jail = path.join(tmp, 'new-jail');
    const r = await elfcopy(['/usr/bin/true', '--into', jail, '-q']);
    expect(r.exitCode).toBe(0);
    expect((fs.statSync(jail).mode & 0o7777).toString(8)).toBe('755');
    expect(fs.statSync(path.join(jail, 'usr/bin/true')).isFile()).toBe(true);
  });

  it('a jail two levels below a missing directory is refused in one line, exit 2, and nothing is made', async () => {
    const r = await elfcopy(['/usr/bin/true', '--into', path.join(tmp, 'typo', 'deeper', 'jail')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${path.join(tmp, 'typo', 'deeper')} does not exist`);
    expect(fs.existsSync(path.join(tmp, 'typo'))).toBe(false);
  });

  it('a run refused for bad input (not ELF, a missing file, an unknown profile) leaves no new jail behind', async () => {
    for (const [i, args] of [['/etc/hostname'], ['/no/such/file'], ['/usr/bin/true', '--with', 'no-such-profile']].entries()) {
      const jail = path.join(tmp, `refused-${i}`);
      const r = await elfcopy([...args, '--into', jail]);
      expect(r.exitCode).toBe(2);
      expect(fs.existsSync(jail)).toBe(false);
    }
  });

  it('--help says what the command does', async () => {
    const r = await elfcopy(['copy', '--help']);
    expect(r.stdout).not.toMatch(/must exist/);
    expect(r.stdout.replace(/\s+/g, " ")).toContain("--into <jail> the jail directory (its last component is created if missing");
  });
});
