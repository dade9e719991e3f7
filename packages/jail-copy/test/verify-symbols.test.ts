/**
 * verify --symbols: a plugin (a library nothing in the jail needs: dlopen'd) whose undefined symbols no
 * program, library or other plugin defines. The rest of the jail tools are in jail-tools.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ELFCOPY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'bin', 'elfcopy.cjs');
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-checks-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [ELFCOPY, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Finding {
  rule: string;
  path: string;
  severity: string;
}
const findings = (args: string[]): { status: number | null; findings: Finding[] } => {
  const r = cli([...args, '--json']);
  return { status: r.status, findings: (JSON.parse(r.stdout) as { findings: Finding[] }).findings };
};

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the jail tests chown copies to root: run them as root (CI does)');
});

describe('verify --symbols: plugins whose symbols nothing defines', () => {
  it('pdo_mysql.so without pdo.so (no DT_NEEDED says it needs it)', () => {
    const j = path.join(tmp, 'php-symbols');
    const c = cli(['/usr/bin/php8.2', '--into', j, '--with', 'php', '-q']);
    expect(c.status, c.stderr).toBe(0);
    expect(findings(['verify', j, '--symbols']).findings).toEqual([]);
    const api = fs.readdirSync(path.join(j, 'usr/lib/php')).find((d) => /^\d{8}$/.test(d))!;
    fs.rmSync(path.join(j, 'usr/lib/php', api, 'pdo.so'));
    expect(findings(['verify', j]).status).toBe(0);
    const v = findings(['verify', j, '--symbols']);
    expect(v.status).toBe(1);
    expect(v.findings).toContainEqual(expect.objectContaining({ rule: 'undefined-symbol', path: `/usr/lib/php/${api}/pdo_mysql.so` }));
  });
});

