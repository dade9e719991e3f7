#!/usr/bin/env node
/**
 * npm run bench: elfcopy and the anchors side by side in one run, medians over repetitions, ratios.
 * Wall time and peak RSS of each whole process come from GNU time (/usr/bin/time -f '%e %M').
 * Never a timed test: machines are noisy, so read the ratios, not the absolute figures.
 *
 *   W1  closure of php-fpm8.2           elfcopy deps --list | ldd | libtree -vv -p | lddtree -l
 *   W2  closure of every ELF executable in /usr/bin and /usr/sbin in one process (ldd: a loop)
 *   W3  php-fpm8.2 + every PHP extension into a fresh jail   elfcopy | dracut-install | lddtree --copy-to-tree | jk_cp
 *       (the bare closure: elfcopy runs with --with none, as the anchors copy no runtime files)
 *   W3b the same again into the populated jail
 *   RSS closure of everything under /usr (CUDA libraries included), peak RSS
 *   IMG elfcopy image of a 1 GiB jail (gzip layer): peak RSS, one run (the layer streams: it must not grow with the jail)
 *
 * Options: --reps N (default 5), --only W1,W2,... , --json FILE (write the table as JSON too).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const elfcopy = path.join(here, '..', 'packages', 'cli', 'bin', 'elfcopy.cjs');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', '5'));
const only = opt('--only', 'W1,W2,W3,W3b,RSS,IMG').split(',');
const jsonOut = opt('--json', undefined);
const timeFile = path.join(os.tmpdir(), `elfcopy-bench-time-${process.pid}`);

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** One run of a command under GNU time: { wall seconds, peak RSS KiB, status }. */
function runOnce(cmd, argv, { shell = false, before } = {}) {
  if (before) before();
  const full = shell ? ['sh', '-c', cmd] : [cmd, ...argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, ...full], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const [, rss] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, rss, status: r.status, stderr: r.stderr?.toString() ?? '' };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs each entry `reps` times, interleaved (a, b, c, a, b, c, …) so drift hits all alike. */
function measure(entries) {
  const samples = entries.map(() => ({ wall: [], rss: [], status: new Set() }));
  runOnceAll(entries); // warm the page cache
  for (let r = 0; r < reps; r++) {
    entries.forEach((e, i) => {
      const o = runOnce(e.cmd, e.argv ?? [], e);
      samples[i].wall.push(o.wall);
      samples[i].rss.push(o.rss);
      samples[i].status.add(o.status);
    });
  }
  return entries.map((e, i) => ({ name: e.name, wall: median(samples[i].wall), rss: Math.max(...samples[i].rss), status: [...samples[i].status].join(',') }));
}

function runOnceAll(entries) {
  for (const e of entries) runOnce(e.cmd, e.argv ?? [], e);
}

const rows = [];
function report(workload, results, floorName) {
  const floor = results.find((r) => r.name === floorName);
  console.log(`\n${workload}`);
  console.log(`  ${'command'.padEnd(44)} ${'median s'.padStart(9)} ${'work s'.padStart(8)} ${'peak RSS'.padStart(10)} ${'exit'.padStart(5)}`);
  for (const r of results) {
    const work = floor && r.name.startsWith('elfcopy') ? Math.max(0, r.wall - floor.wall) : undefined;
    console.log(`  ${r.name.padEnd(44)} ${r.wall.toFixed(3).padStart(9)} ${(work === undefined ? '' : work.toFixed(3)).padStart(8)} ${`${(r.rss / 1024).toFixed(1)} MB`.padStart(10)} ${String(r.status).padStart(5)}`);
    rows.push({ workload, ...r, work });
  }
}

function ratio(label, a, b, goal) {
  const value = a / b;
  console.log(`  ${label.padEnd(60)} ${value.toFixed(2).padStart(8)}   goal ${goal}`);
  rows.push({ ratio: label, value, goal });
  return value;
}

function listDynamicExecutables(dirs) {
  const r = spawnSync('node', [elfcopy, 'deps', '--json', ...dirs], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const j = JSON.parse(r.stdout);
  return j.roots.filter((x) => x.interpreter).map((x) => x.path);
}

const php = '/usr/sbin/php-fpm8.2';
const phpExtDirs = fs.existsSync('/usr/lib/php') ? fs.readdirSync('/usr/lib/php').filter((d) => /^\d{8}$/.test(d)).map((d) => `/usr/lib/php/${d}`) : [];
console.log(`elfcopy bench — ${new Date().toISOString()} — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${reps} reps, medians`);

if (only.includes('W1')) {
  const entries = [
    { name: 'node -e 0 (floor of any Node CLI)', cmd: 'node', argv: ['-e', '0'] },
    { name: 'elfcopy deps --list php-fpm8.2', cmd: 'node', argv: [elfcopy, 'deps', '--list', php] },
    { name: 'ldd php-fpm8.2', cmd: 'ldd', argv: [php] },
  ];
  if (have('libtree')) entries.push({ name: 'libtree -vv -p php-fpm8.2', cmd: 'libtree', argv: ['-vv', '-p', php] });
  if (have('lddtree')) entries.push({ name: 'lddtree -l php-fpm8.2', cmd: '/usr/bin/python3', argv: ['/usr/bin/lddtree', '-l', php] });
  const res = measure(entries);
  report('W1: closure of php-fpm8.2', res, entries[0].name);
  ratio('W1 elfcopy / node -e 0', res[1].wall, res[0].wall, '<= 1.3');
}

if (only.includes('W2')) {
  const files = listDynamicExecutables(['/usr/bin', '/usr/sbin']);
  const list = path.join(os.tmpdir(), `elfcopy-bench-w2-${process.pid}`);
  fs.writeFileSync(list, files.join('\n') + '\n');
  const entries = [
    { name: 'node -e 0 (floor)', cmd: 'node', argv: ['-e', '0'] },
    { name: `elfcopy deps --list /usr/bin /usr/sbin`, cmd: 'node', argv: [elfcopy, 'deps', '--list', '/usr/bin', '/usr/sbin'] },
    { name: `ldd loop (${files.length} files)`, cmd: `while read -r f; do ldd "$f"; done < ${list} >/dev/null 2>&1`, shell: true },
  ];
  if (have('libtree')) entries.push({ name: `libtree -vv -p (${files.length} files)`, cmd: 'libtree', argv: ['-vv', '-p', ...files] });
  if (have('lddtree')) entries.push({ name: `lddtree -l (${files.length} files)`, cmd: '/usr/bin/python3', argv: ['/usr/bin/lddtree', '-l', ...files] });
  const res = measure(entries);
  report(`W2: closure of ${files.length} dynamic executables in /usr/bin and /usr/sbin`, res, entries[0].name);
  const work = res[1].wall - res[0].wall;
  const lt = res.find((r) => r.name.startsWith('libtree'));
  if (lt) ratio('W2 elfcopy work time / libtree whole time', work, lt.wall, '<= 1.0');
  ratio('W2 ldd loop / elfcopy (speed-up)', res[2].wall, res[1].wall, '>= 40');
  fs.rmSync(list, { force: true });
}

if (only.includes('W3') || only.includes('W3b')) {
  // Not under /tmp: jailkit refuses a jail below a world-writable directory.
  fs.mkdirSync(path.join(here, 'out'), { recursive: true, mode: 0o755 });
  const jailRoot = fs.mkdtempSync(path.join(here, 'out', 'jails-'));
  fs.chmodSync(jailRoot, 0o755);
  const inputs = [php, ...phpExtDirs];
  const extFiles = phpExtDirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.so')).map((f) => `${d}/${f}`));
  const fresh = (name) => () => {
    fs.rmSync(path.join(jailRoot, name), { recursive: true, force: true });
    fs.mkdirSync(path.join(jailRoot, name));
  };
  const w3 = [
    { name: 'node -e 0 (floor)', cmd: 'node', argv: ['-e', '0'] },
    { name: 'elfcopy php-fpm8.2 + extensions --into J', cmd: 'node', argv: [elfcopy, php, ...phpExtDirs, '--into', path.join(jailRoot, 'e'), '--with', 'none', '--quiet'], before: fresh('e') },
  ];
  if (fs.existsSync('/usr/lib/dracut/dracut-install')) {
    w3.push({ name: 'dracut-install -D J -a -l …', cmd: '/usr/lib/dracut/dracut-install', argv: ['-D', path.join(jailRoot, 'd'), '-a', '-l', php, ...extFiles], before: fresh('d') });
  }
  if (have('lddtree')) {
    w3.push({ name: 'lddtree --copy-to-tree J …', cmd: '/usr/bin/python3', argv: ['/usr/bin/lddtree', '--copy-to-tree', path.join(jailRoot, 'l'), php, ...extFiles], before: fresh('l') });
  }
  if (have('jk_cp')) {
    w3.push({ name: 'jailkit jk_cp -j J …', cmd: 'jk_cp', argv: ['-j', path.join(jailRoot, 'k'), php, ...phpExtDirs], before: fresh('k') });
  }
  if (only.includes('W3')) {
    const res = measure(w3);
    report('W3: php-fpm8.2 + every PHP extension into a fresh jail', res, w3[0].name);
    const dr = res.find((r) => r.name.startsWith('dracut'));
    if (dr) ratio('W3 elfcopy whole process / dracut-install', res[1].wall, dr.wall, '<= 1.0');
    var w3work = res[1].wall - res[0].wall;
  }
  if (only.includes('W3b')) {
    fresh('e')();
    runOnce('node', [elfcopy, php, ...phpExtDirs, '--into', path.join(jailRoot, 'e'), '--with', 'none', '--quiet']);
    const w3b = [w3[0], { ...w3[1], name: 'elfcopy … --into J (populated)', before: undefined }];
    const res = measure(w3b);
    report('W3b: the same again into the populated jail', res, w3[0].name);
    if (w3work !== undefined) ratio('W3b work time / W3 work time', res[1].wall - res[0].wall, w3work, '< 0.1');
  }
  fs.rmSync(jailRoot, { recursive: true, force: true });
}

if (only.includes('RSS')) {
  const res = measure([{ name: 'elfcopy deps --list /usr (everything, CUDA included)', cmd: 'node', argv: [elfcopy, 'deps', '--list', '/usr'] }]);
  report('RSS: closure of every ELF under /usr', res);
  console.log(`  peak RSS ${(res[0].rss / 1024).toFixed(1)} MB   goal < 120 MB`);
  rows.push({ ratio: 'peak RSS MB, closure of /usr', value: res[0].rss / 1024, goal: '< 120' });
}

if (only.includes('IMG')) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-bench-img-'));
  const jail = path.join(dir, 'jail');
  fs.mkdirSync(path.join(jail, 'data'), { recursive: true });
  spawnSync('node', [elfcopy, '/usr/bin/true', '--into', jail, '--quiet'], { stdio: 'ignore' });
  // 1 GiB in 16 files of incompressible bytes: gzip cannot shrink them, so every byte streams through.
  const chunk = Buffer.alloc(1 << 20);
  for (let f = 0; f < 16; f++) {
    const fd = fs.openSync(path.join(jail, 'data', `blob-${f}`), 'w');
    for (let i = 0; i < 64; i++) fs.writeSync(fd, fillRandom(chunk));
    fs.closeSync(fd);
  }
  const r = runOnce('node', [elfcopy, 'image', jail, '--oci', path.join(dir, 'oci'), '--tag', 'bench:1g']);
  report('IMG: elfcopy image of a 1 GiB jail (one run)', [{ name: 'elfcopy image --oci (gzip layer)', wall: r.wall, rss: r.rss, status: r.status }]);
  console.log(`  peak RSS ${(r.rss / 1024).toFixed(1)} MB   goal < 150 MB`);
  rows.push({ ratio: 'peak RSS MB, image of a 1 GiB jail', value: r.rss / 1024, goal: '< 150' });
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A buffer of random bytes (getRandomValues fills at most 64 KiB per call). */
function fillRandom(buf) {
  for (let o = 0; o < buf.length; o += 65536) crypto.getRandomValues(buf.subarray(o, o + 65536));
  return buf;
}

fs.rmSync(timeFile, { force: true });
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), reps, rows }, null, 2));
