/**
 * The article's whole job, end to end, run as README.md shows it: the lines of its nginx + php-fpm
 * example, taken from the README itself (elfcopy on PATH through node_modules/.bin, ELFCOPY unset), with
 * only /srv/jail and port 8080 replaced by a temporary jail and a free loopback port. jail.sh builds a
 * jail with elfcopy alone, starts nginx and php-fpm8.2 in it, and a PHP page served through nginx
 * exercises everything a DT_NEEDED-only jail gets wrong. Fails (never skips) when a prerequisite is
 * missing: CI installs them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELFCOPY, freePort } from './helpers.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The README's example block: its command lines, comments dropped. */
const readmeLines = ((): string[] => {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The nginx + php-fpm example'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
})();
let tmp: string;
let jail: string;
let port: number;
let env: NodeJS.ProcessEnv;

/** The README line that does `what` (build, start, stop, curl), with the jail and port of this run. */
function readmeLine(what: string): string {
  const line = readmeLines.find((l) => (what === 'curl' ? l.startsWith('curl ') : l.endsWith(`jail.sh ${what}`)));
  if (!line) throw new Error(`README's nginx + php-fpm example has no '${what}' line: ${JSON.stringify(readmeLines)}`);
  return line.replaceAll('/srv/jail', jail).replaceAll('8080', String(port));
}

/** Runs one README line after the block's own setup lines (export PATH=…), from the repository's root. */
function run(what: string): { status: number | null; stdout: string; out: string } {
  const setup = readmeLines.filter((l) => l.startsWith('export '));
  const r = spawnSync('bash', ['-c', [...setup, readmeLine(what)].join('\n')], { cwd: repo, env, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

function pidIn(file: string): number {
  return Number(fs.readFileSync(path.join(jail, file), 'utf8').trim());
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function uidOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

beforeAll(async () => {
  for (const p of ['/usr/sbin/nginx', '/usr/sbin/php-fpm8.2', '/usr/bin/php8.2']) {
    if (!fs.existsSync(p)) throw new Error(`${p} is not installed: .ci/run installs nginx and php8.2-fpm`);
  }
  if (process.getuid?.() !== 0) throw new Error('the end-to-end test chroots and starts daemons: run it as root (CI does)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-e2e-'));
  jail = path.join(tmp, 'jail');
  port = await freePort();
  // As a user's shell has it: no ELFCOPY (jail.sh must find elfcopy on PATH), and no JAIL or PORT but
  // what the README line sets.
  env = { ...process.env };
  for (const k of ['ELFCOPY', 'JAIL', 'PORT']) delete env[k];
  expect(readmeLines.filter((l) => !l.startsWith('export ')), 'the README block is build, start, curl, stop').toHaveLength(4);
  const b = run('build');
  expect(b.out).not.toMatch(/Segmentation fault|core dumped/);
  expect(b.status, b.out).toBe(0);
}, 300_000);

afterAll(() => {
  if (!tmp) return;
  run('stop');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('nginx + php-fpm8.2 in an elfcopy jail', () => {
  it('the configuration tests pass inside the jail, php -m with no warning', () => {
    const n = spawnSync('chroot', [jail, '/usr/sbin/nginx', '-t', '-c', '/etc/nginx/elfcopy-site.conf'], { encoding: 'utf8' });
    expect(n.status, n.stderr).toBe(0);
    const f = spawnSync('chroot', [jail, '/usr/sbin/php-fpm8.2', '-t', '--fpm-config', '/etc/php/8.2/fpm/elfcopy-pool.conf'], { encoding: 'utf8' });
    expect(f.status, f.stderr).toBe(0);
    const m = spawnSync('chroot', [jail, '/usr/bin/php8.2', '-m'], { encoding: 'utf8' });
    expect(m.status).toBe(0);
    expect(m.stdout + m.stderr).not.toMatch(/Warning|Unable to load/);
  });

  it('serves a PHP page whose every line checks what DT_NEEDED never shows', async () => {
    const s = run('start');
    expect(s.status, s.out).toBe(0);
    // The README's curl line, retried while the daemons come up.
    let body = '';
    for (let i = 0; i < 50 && body === ''; i++) {
      const c = run('curl');
      if (c.status === 0) body = c.stdout;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const lines = Object.fromEntries(body.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    expect(lines).toEqual({
      date: 'CEST +02:00',
      iconv: '68e96c6c6f20455552',
      intl: '1.234,5',
      mbstring: 'HÉLLO',
      pdo_sqlite: '42',
      gd: '2x2',
      imagick: 'formats>200',
      json: '{"a":[1,2]}',
      user: 'www-data',
      localhost: '127.0.0.1',
      curl: 'ssl ca=found',
    });
  });

  it('both masters run with the jail as root, their workers as www-data', () => {
    const wwwData = 33;
    for (const pidFile of ['run/nginx.pid', 'run/php/php-fpm.pid']) {
      const pid = pidIn(pidFile);
      expect(fs.readlinkSync(`/proc/${pid}/root`)).toBe(fs.realpathSync(jail));
      const workers = children(pid);
      expect(workers.length, pidFile).toBeGreaterThan(0);
      for (const w of workers) {
        expect(uidOf(w)).toBe(wwwData);
        expect(fs.readlinkSync(`/proc/${w}/root`)).toBe(fs.realpathSync(jail));
      }
    }
  });

  it('elfcopy verify and elfcopy audit pass on the running jail', () => {
    const v = spawnSync('node', [ELFCOPY, 'verify', jail], { encoding: 'utf8' });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    const a = spawnSync('node', [ELFCOPY, 'audit', jail, '--writable', 'www-data:/var/lib/nginx,/var/log/nginx,/run/php,/var/lib/php/sessions'], { encoding: 'utf8' });
    expect(a.status, a.stdout + a.stderr).toBe(0);
  });

  it('stop ends both daemons by their pid files and nothing else', () => {
    const pids = [pidIn('run/nginx.pid'), pidIn('run/php/php-fpm.pid')];
    const all = pids.flatMap((p) => [p, ...children(p)]);
    const s = run('stop');
    expect(s.status, s.out).toBe(0);
    for (const p of all) expect(fs.existsSync(`/proc/${p}`), `pid ${p} still alive`).toBe(false);
  });
});
