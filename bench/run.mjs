#!/usr/bin/env node
/**
 * npm run bench: elfcopy and the anchors side by side in one run, medians over repetitions, ratios.
 * Wall time and peak RSS of each whole process come from GNU time (/usr/bin/time -f '%e %M').
 * Never a timed test: machines are noisy, so read the ratios, not the absolute figures.
 * "work" is elfcopy's median minus the median of `node -e 0` in the same interleaved run. The goals
 * use medians; the fastest run of each command ("min s") is printed beside them, for a busy machine.
 *
 *   W1  closure of php-fpm8.2           elfcopy deps --list | ldd | libtree -vv -p | lddtree -l
 *   W2  closure of every dynamic executable in /usr/bin and /usr/sbin in one process (ldd: a loop);
 *       every tool gets the same explicit list of programs
 *   W3  php-fpm8.2 + every PHP extension into a fresh jail, the bare closure (elfcopy --with none:
 *       runtime-file profiles are on by default, and the anchors copy no runtime files).
 *       Same work: dracut-install -D J -a ENTRIES… and tar -C / --no-recursion -cf - -T LIST | tar -C J -xpf -,
 *       where ENTRIES is what elfcopy itself leaves in the jail (its manifest, without .elfcopy/).
 *       Beside them, for reference, the anchors doing their own (different) work on the same inputs, and
 *       a floor: bench/lean-copy.cjs, the leanest Node copy of the same entries that hashes what it writes
 *       (two lanes, no plan, no checks).
 *   W3b the same again into the populated jail
 *   RSS closure of everything under /usr (CUDA libraries included), peak RSS
 *   IMG elfcopy image of a 1 GiB jail (gzip layer): peak RSS, one run (the layer streams: it must not grow with the jail)
 *
 * Goals (issue 16), each printed as met / not met, and again in a summary at the end.
 *
 * Options: --reps N (default 5), --only W1,W2,... , --json FILE (write the table as JSON too), --help.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const elfcopy = path.join(here, '..', 'packages', 'cli', 'bin', 'elfcopy.cjs');
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  // The doc comment above is the help: print it without its comment markers.
  const src = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const doc = src.slice(src.indexOf('/**') + 3, src.indexOf('*/'));
  console.log(doc.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n').trim());
  process.exit(0);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', '5'));
const only = opt('--only', 'W1,W2,W3,W3b,RSS,IMG').split(',');
const jsonOut = opt('--json', undefined);
const timeFile = path.join(os.tmpdir(), `elfcopy-bench-time-${process.pid}`);
if (!Number.isInteger(reps) || reps < 1) {
  console.error(`bench: --reps wants a positive integer, not ${opt('--reps')}`);
  process.exit(2);
}

/** Today's peak RSS on a closure of all of /usr (issue 16): the goal allows 10 % more. */
const RSS_BASELINE_MB = 79;

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
  return entries.map((e, i) => ({ name: e.name, same: e.same, wall: median(samples[i].wall), min: Math.min(...samples[i].wall), rss: Math.max(...samples[i].rss), status: [...samples[i].status].join(',') }));
}

function runOnceAll(entries) {
  for (const e of entries) runOnce(e.cmd, e.argv ?? [], e);
}

const rows = [];
function report(workload, results, floorName) {
  const floor = results.find((r) => r.name === floorName);
  console.log(`\n${workload}`);
  console.log(`  ${'command'.padEnd(44)} ${'median s'.padStart(9)} ${'work s'.padStart(8)} ${'min s'.padStart(8)} ${'peak RSS'.padStart(10)} ${'exit'.padStart(5)}`);
  for (const r of results) {
    const work = floor && r.name.startsWith('elfcopy') ? Math.max(0, r.wall - floor.wall) : undefined;
    console.log(`  ${r.name.padEnd(44)} ${r.wall.toFixed(3).padStart(9)} ${(work === undefined ? '' : work.toFixed(3)).padStart(8)} ${(r.min === undefined ? '' : r.min.toFixed(3)).padStart(8)} ${`${(r.rss / 1024).toFixed(1)} MB`.padStart(10)} ${String(r.status).padStart(5)}`);
    rows.push({ workload, ...r, work });
  }
}

const goals = [];
/**
 * One goal row: VALUE against GOAL ('<= 1.5', '>= 40', '< 0.1'), met or not met, kept for the summary.
 * STRETCH, when given, is a second, tighter bound reported on the same row.
 */
function goal(label, value, bound, stretch) {
  const met = check(value, bound);
  const extra = stretch ? `; stretch ${stretch}: ${check(value, stretch) ? 'met' : 'not met'}` : '';
  const line = `${label.padEnd(60)} ${value.toFixed(2).padStart(8)}   goal ${bound}: ${met ? 'met' : 'NOT MET'}${extra}`;
  console.log(`  ${line}`);
  goals.push(line);
  rows.push({ ratio: label, value, goal: bound, met, ...(stretch ? { stretch, stretchMet: check(value, stretch) } : {}) });
  return value;
}
function ratio(label, a, b, bound, stretch) {
  return goal(label, a / b, bound, stretch);
}
function check(value, bound) {
  const [op, n] = bound.split(' ');
  const x = Number(n);
  return op === '<=' ? value <= x : op === '<' ? value < x : op === '>=' ? value >= x : op === '>' ? value > x : false;
}
/** A row for information only (no goal): different work, unless NOTE says what it is. */
function info(label, value, note = 'no goal: different work') {
  console.log(`  ${label.padEnd(60)} ${value.toFixed(2).padStart(8)}   (${note})`);
  rows.push({ ratio: label, value });
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
  ratio('W1 elfcopy / node -e 0 (whole runs)', res[1].wall, res[0].wall, '<= 1.2');
}

if (only.includes('W2')) {
  // One explicit list for every tool: elfcopy given the directories would also list their static
  // executables and non-program ELF files, which libtree and the ldd loop never see.
  const files = listDynamicExecutables(['/usr/bin', '/usr/sbin']);
  const list = path.join(os.tmpdir(), `elfcopy-bench-w2-${process.pid}`);
  fs.writeFileSync(list, files.join('\n') + '\n');
  const entries = [
    { name: 'node -e 0 (floor)', cmd: 'node', argv: ['-e', '0'] },
    { name: `elfcopy deps --list (${files.length} files)`, cmd: 'node', argv: [elfcopy, 'deps', '--list', ...files] },
    { name: `ldd loop (${files.length} files)`, cmd: `while read -r f; do ldd "$f"; done < ${list} >/dev/null 2>&1`, shell: true },
  ];
  if (have('libtree')) entries.push({ name: `libtree -vv -p (${files.length} files)`, cmd: 'libtree', argv: ['-vv', '-p', ...files] });
  if (have('lddtree')) entries.push({ name: `lddtree -l (${files.length} files)`, cmd: '/usr/bin/python3', argv: ['/usr/bin/lddtree', '-l', ...files] });
  const res = measure(entries);
  report(`W2: closure of ${files.length} dynamic executables in /usr/bin and /usr/sbin`, res, entries[0].name);
  const work = res[1].wall - res[0].wall;
  const lt = res.find((r) => r.name.startsWith('libtree'));
  if (lt) ratio('W2 elfcopy work time / libtree whole time', work, lt.wall, '<= 1.5', '<= 1.0');
  ratio('W2 ldd loop / elfcopy whole time (speed-up)', res[2].wall, res[1].wall, '>= 40');
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
  const elfcopyArgv = (jail) => [elfcopy, php, ...phpExtDirs, '--into', jail, '--with', 'none', '--quiet'];
  // The entries elfcopy itself leaves in the jail, from its manifest (without .elfcopy/): the same
  // work for dracut-install and the tar pipe.
  const probe = path.join(jailRoot, 'probe');
  const made = spawnSync('node', elfcopyArgv(probe), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`bench: elfcopy into ${probe} failed (exit ${made.status}): ${made.stderr}`);
  const manifest = JSON.parse(fs.readFileSync(path.join(probe, '.elfcopy', 'manifest.json'), 'utf8'));
  const entryPaths = manifest.entries.map((e) => e.path).filter((p) => p !== '/.elfcopy' && !p.startsWith('/.elfcopy/'));
  const kinds = {};
  for (const e of manifest.entries) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  const entryList = path.join(jailRoot, 'entries.txt');
  // tar -T reads one name a line: a name with a newline cannot be listed (none on Debian's /usr).
  if (entryPaths.some((p) => p.includes('\n'))) throw new Error('bench: an entry name holds a newline; tar -T cannot list it');
  fs.writeFileSync(entryList, entryPaths.map((p) => p.slice(1)).join('\n') + '\n');
  fs.rmSync(probe, { recursive: true, force: true });
  const sameWork = `${entryPaths.length} entries`;
  const w3 = [
    { name: 'node -e 0 (floor)', cmd: 'node', argv: ['-e', '0'] },
    { name: 'elfcopy php-fpm8.2 + extensions --into J', cmd: 'node', argv: elfcopyArgv(path.join(jailRoot, 'e')), before: fresh('e') },
  ];
  const dracut = '/usr/lib/dracut/dracut-install';
  if (fs.existsSync(dracut)) {
    w3.push({ name: `dracut-install -D J -a (same ${sameWork})`, same: 'dracut', cmd: dracut, argv: ['-D', path.join(jailRoot, 'ds'), '-a', ...entryPaths], before: fresh('ds') });
  }
  w3.push({
    name: `tar -T LIST | tar -x (same ${sameWork})`,
    same: 'tar',
    cmd: `tar -C / --no-recursion -cf - -T '${entryList}' | tar -C '${path.join(jailRoot, 't')}' -xpf -`,
    shell: true,
    before: fresh('t'),
  });
  // A floor, not an anchor: the leanest Node copy of the same entries that hashes every byte it writes
  // (bench/lean-copy.cjs: no plan, no checks, no manifest; two lanes as elfcopy has). Against the tar
  // pipe it shows what a Node process that hashes can reach at all; elfcopy's own cost is the rest.
  w3.push({
    name: `lean Node copy+sha256 (same ${sameWork})`,
    same: 'lean',
    cmd: 'node',
    argv: [path.join(here, 'lean-copy.cjs'), entryList, path.join(jailRoot, 'n')],
    before: fresh('n'),
  });
  if (fs.existsSync(dracut)) {
    w3.push({ name: 'dracut-install -D J -a -l … (own work)', cmd: dracut, argv: ['-D', path.join(jailRoot, 'd'), '-a', '-l', php, ...extFiles], before: fresh('d') });
  }
  if (have('lddtree')) {
    w3.push({ name: 'lddtree --copy-to-tree J … (own work)', cmd: '/usr/bin/python3', argv: ['/usr/bin/lddtree', '--copy-to-tree', path.join(jailRoot, 'l'), php, ...extFiles], before: fresh('l') });
  }
  if (have('jk_cp')) {
    w3.push({ name: 'jailkit jk_cp -j J … (own work)', cmd: 'jk_cp', argv: ['-j', path.join(jailRoot, 'k'), php, ...phpExtDirs], before: fresh('k') });
  }
  if (only.includes('W3')) {
    const res = measure(w3);
    const kindText = Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ');
    report(`W3: php-fpm8.2 + every PHP extension into a fresh jail (${sameWork}: ${kindText})`, res, w3[0].name);
    const failed = res.filter((r) => r.same && r.status !== '0');
    for (const r of failed) console.log(`  warning: ${r.name} exited ${r.status}: its time is not the same work`);
    const ds = res.find((r) => r.same === 'dracut');
    if (ds) ratio('W3 elfcopy / dracut-install, same entries (whole runs)', res[1].wall, ds.wall, '<= 1.0');
    const tp = res.find((r) => r.same === 'tar');
    ratio('W3 elfcopy / tar pipe, same entries (whole runs)', res[1].wall, tp.wall, '<= 1.3');
    const lean = res.find((r) => r.same === 'lean');
    if (lean) {
      info('W3 lean Node copy + sha256 / tar pipe', lean.wall / tp.wall, 'no goal: a floor for the tar-pipe goal');
      info('W3 elfcopy / lean Node copy + sha256', res[1].wall / lean.wall, "no goal: elfcopy's cost over the floor");
    }
    const dr = res.find((r) => r.name.startsWith('dracut-install -D J -a -l'));
    if (dr) info('W3 elfcopy / dracut-install -l on its own (smaller) tree', res[1].wall / dr.wall);
    var w3work = res[1].wall - res[0].wall;
  }
  if (only.includes('W3b')) {
    fresh('e')();
    runOnce('node', elfcopyArgv(path.join(jailRoot, 'e')));
    const w3b = [w3[0], { ...w3[1], name: 'elfcopy … --into J (populated)', before: undefined }];
    const res = measure(w3b);
    report('W3b: the same again into the populated jail', res, w3[0].name);
    if (w3work !== undefined) ratio('W3b work time / W3 work time', res[1].wall - res[0].wall, w3work, '< 0.1');
    else console.log('  (W3b / W3 needs W3 in the same run: --only W3,W3b)');
  }
  fs.rmSync(jailRoot, { recursive: true, force: true });
}

if (only.includes('RSS')) {
  const res = measure([{ name: 'elfcopy deps --list /usr (everything, CUDA included)', cmd: 'node', argv: [elfcopy, 'deps', '--list', '/usr'] }]);
  report('RSS: closure of every ELF under /usr', res);
  goal('peak RSS MB, closure of all of /usr', res[0].rss / 1024, `<= ${(RSS_BASELINE_MB * 1.1).toFixed(1)}`);
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
  goal('peak RSS MB, image of a 1 GiB jail', r.rss / 1024, '< 150');
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A buffer of random bytes (getRandomValues fills at most 64 KiB per call). */
function fillRandom(buf) {
  for (let o = 0; o < buf.length; o += 65536) crypto.getRandomValues(buf.subarray(o, o + 65536));
  return buf;
}

console.log('\nGoals (issue 16), medians of this one interleaved run:');
for (const g of goals) console.log(`  ${g}`);

fs.rmSync(timeFile, { force: true });
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), reps, rows }, null, 2));
