/**
 * What DT_NEEDED never shows: profiles bring the runtime files (tz database, gconv modules, PHP's conf.d
 * and extensions, ImageMagick coders, the CA bundle, resolver files) and a jail built with them runs real
 * PHP scripts as the jail's unprivileged user; trace finds what a command loads; .note.dlopen is read.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf, resolveClosure } from '@elfcopy/elf-deps';
import { elfcopy } from './helpers.js';

const isRoot = process.getuid?.() === 0;
let tmp: string;
let jail: string;

function phpInJail(script: string): { status: number | null; out: string } {
  fs.writeFileSync(path.join(jail, 'tmp', 'check.php'), `<?php\n${script}\n`, { mode: 0o644 });
  const r = spawnSync('chroot', ['--userspec=www-data:www-data', jail, '/usr/bin/php8.2', '/tmp/check.php'], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

beforeAll(async () => {
  if (!isRoot) throw new Error('these tests build and chroot into jails: run them as root (CI does)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-profiles-'));
  jail = path.join(tmp, 'jail');
  fs.mkdirSync(jail);
  const init = await elfcopy(['init', jail, '--user', 'www-data']);
  expect(init.exitCode, init.stderr).toBe(0);
  const copy = await elfcopy(['/usr/bin/php8.2', '--into', jail, '--with', 'auto,gconv'], { timeout: 300_000 });
  expect(copy.exitCode, copy.stderr).toBe(0);
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a PHP jail built with --with auto,gconv, run as www-data', () => {
  it('php8.2 -m lists every module of the host, with no warning', () => {
    const host = execFileSync('php8.2', ['-m'], { encoding: 'utf8' });
    const r = spawnSync('chroot', ['--userspec=www-data:www-data', jail, '/usr/bin/php8.2', '-m'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/Warning|Unable to load/);
    expect(r.stdout).toBe(host);
  });

  it('zoneinfo: date() with a named zone', () => {
    const r = phpInJail("echo (new DateTime('2020-07-01 12:00', new DateTimeZone('Europe/Paris')))->format('T P');");
    expect(r.out).toBe('CEST +02:00');
  });

  it('gconv: iconv UTF-8 to ISO-8859-1//TRANSLIT', () => {
    const r = phpInJail('echo bin2hex(iconv("UTF-8", "ISO-8859-1//TRANSLIT", "h\\u{e9}llo \\u{20ac}"));');
    expect(r.out).toBe('68e96c6c6f20455552');
  });

  it('php: intl formats with ICU data', () => {
    expect(phpInJail("echo (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234.5);").out).toBe('1.234,5');
  });

  it('imagemagick: Imagick knows more than 200 formats and writes a PNG', () => {
    const r = phpInJail("echo count(Imagick::queryFormats()), ' '; $i = new Imagick(); $i->newImage(2, 2, 'red'); $i->setImageFormat('png'); echo substr($i->getImageBlob(), 1, 3);");
    const [count, png] = r.out.split(' ');
    expect(Number(count)).toBeGreaterThan(200);
    expect(png).toBe('PNG');
  });

  it('openssl: the default CA bundle exists in the jail, and /etc/ssl/private does not', () => {
    const r = phpInJail("$l = openssl_get_cert_locations(); echo $l['default_cert_file'], ' ', file_exists($l['default_cert_file']) ? 'yes' : 'no';");
    expect(r.out).toMatch(/ yes$/);
    expect(fs.existsSync(path.join(jail, 'etc/ssl/private'))).toBe(false);
  });

  it('resolver: getservbyname and gethostbyname', () => {
    expect(phpInJail("echo getservbyname('http', 'tcp'), ' ', gethostbyname('localhost');").out).toBe('80 127.0.0.1');
  });

  it('conf.d ini files are symlinks whose targets came along', () => {
    const confd = path.join(jail, 'etc/php/8.2/cli/conf.d');
    const links = fs.readdirSync(confd).filter((n) => fs.lstatSync(path.join(confd, n)).isSymbolicLink());
    expect(links.length).toBeGreaterThan(5);
    for (const l of links) {
      const target = fs.readlinkSync(path.join(confd, l));
      expect(target).toBe(fs.readlinkSync(path.join('/etc/php/8.2/cli/conf.d', l)));
      expect(fs.existsSync(path.join(jail, target))).toBe(true);
    }
  });
});

describe('trace and .note.dlopen', () => {
  it('trace of php8.2 iconv finds the gconv module it loads', async () => {
    const r = await elfcopy(['trace', '--json', '--', 'php8.2', '-r', 'echo iconv("UTF-8", "ISO-8859-1//TRANSLIT", "h\\u{e9}llo");']);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { objects: string[]; timedOut: boolean };
    expect(j.timedOut).toBe(false);
    expect(j.objects).toContain(fs.realpathSync('/usr/lib/x86_64-linux-gnu/gconv/ISO8859-1.so'));
  });

  it('trace is bounded: a command that never ends is killed at the timeout', async () => {
    const t0 = Date.now();
    const r = await elfcopy(['trace', '--json', '--timeout', '1', '--', 'sleep', '30']);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((JSON.parse(r.stdout) as { timedOut: boolean }).timedOut).toBe(true);
  });

  it('a .note.dlopen fixture resolves its required soname (and the suggested one only by option)', () => {
    const dir = path.join(tmp, 'dlopen');
    fs.mkdirSync(dir);
    const json = JSON.stringify([
      { feature: 'zz', description: 'compression', priority: 'required', soname: ['libzz.so.1'] },
      { feature: 'yy', priority: 'suggested', soname: ['libyy.so.1'] },
    ]);
    const desc = Buffer.alloc(Math.ceil((json.length + 1) / 4) * 4);
    desc.write(json);
    fs.writeFileSync(
      path.join(dir, 'note.c'),
      `struct n { unsigned a, b, c; char name[4]; unsigned char desc[${desc.length}]; };
__attribute__((used, section(".note.dlopen"), aligned(4))) static const struct n note = { 4, ${desc.length}, 0x407c0c0a, "FDO", { ${[...desc].join(',')} } };
int f(void) { return 1; }
`,
    );
    fs.writeFileSync(path.join(dir, 'zz.c'), 'int zz(void) { return 2; }\n');
    execFileSync('gcc', ['-shared', '-fPIC', path.join(dir, 'note.c'), '-o', path.join(dir, 'libnote.so')]);
    execFileSync('gcc', ['-shared', '-fPIC', path.join(dir, 'zz.c'), '-o', path.join(dir, 'libzz.so.1'), '-Wl,-soname,libzz.so.1']);
    const notes = readElf(path.join(dir, 'libnote.so'), { notes: true }).dlopenNotes ?? [];
    expect(notes.map((n) => [n.priority, n.sonames])).toEqual([
      ['required', ['libzz.so.1']],
      ['suggested', ['libyy.so.1']],
    ]);
    const off = resolveClosure([path.join(dir, 'libnote.so')], { ldLibraryPath: dir });
    expect(off.roots[0]!.objects).not.toContain(path.join(dir, 'libzz.so.1'));
    const req = resolveClosure([path.join(dir, 'libnote.so')], { ldLibraryPath: dir, dlopen: 'required' });
    expect(req.roots[0]!.objects).toContain(path.join(dir, 'libzz.so.1'));
    expect(req.missing).toEqual([]);
    const sug = resolveClosure([path.join(dir, 'libnote.so')], { ldLibraryPath: dir, dlopen: 'suggested' });
    expect(sug.missing.map((m) => m.name)).toEqual(['libyy.so.1']);
  });
});
