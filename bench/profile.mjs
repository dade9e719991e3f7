#!/usr/bin/env node
/**
 * node bench/profile.mjs: where W2's work goes. Runs the built CLI under V8's sampling profiler on W2 (the
 * closure of every dynamic executable in /usr/bin and /usr/sbin, given as an explicit list, as
 * bench/run.mjs does), maps each sample to the TypeScript sources through dist/elfcopy-deps.cjs.map (the
 * bundle `elfcopy deps` runs), and prints the mean per run by phase, the top functions by self and by
 * inclusive time.
 * A phase is the innermost elfcopy frame's kind above the sample (see `phaseOf`).
 * The profiler is started by a preload (bench/cpu-profile-preload.cjs), not by `--cpu-prof`: any V8 flag
 * on the command line makes V8 reject the bundle's code cache, which would add ~12 ms no real run pays.
 *
 * Options: --runs N (default 5), --top K (default 25), --keep DIR (keep the .cpuprofile files there).
 * Build first (`npm run build`): it profiles packages/cli/bin/elfcopy.cjs as users run it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const elfcopy = path.join(here, '..', 'packages', 'cli', 'bin', 'elfcopy.cjs');
// `elfcopy deps` runs the deps-only bundle (bin/elfcopy.cjs picks it by the command's name).
const bundle = path.join(here, '..', 'packages', 'cli', 'dist', 'elfcopy-deps.cjs');
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  const src = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8');
  console.log(src.slice(src.indexOf('/**') + 3, src.indexOf('*/')).split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n').trim());
  process.exit(0);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('--runs', '5'));
const topN = Number(opt('--top', '25'));
const keep = opt('--keep', undefined);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(topN) || topN < 1) {
  console.error('profile: --runs and --top want positive integers');
  process.exit(2);
}
if (!fs.existsSync(bundle) || !fs.existsSync(`${bundle}.map`)) {
  console.error(`profile: ${bundle} or its source map is missing: run npm run build first`);
  process.exit(2);
}

// The W2 list, as bench/run.mjs makes it: the roots of `deps --json` that have a PT_INTERP.
const listed = spawnSync('node', [elfcopy, 'deps', '--json', '/usr/bin', '/usr/sbin'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
const files = JSON.parse(listed.stdout).roots.filter((x) => x.interpreter).map((x) => x.path);

const dir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-profile-'));
fs.mkdirSync(dir, { recursive: true });
const before = new Set(fs.readdirSync(dir));
for (let i = 0; i < runs; i++) {
  const r = spawnSync('node', ['-r', path.join(here, 'cpu-profile-preload.cjs'), elfcopy, 'deps', '--list', ...files], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ELFCOPY_PROFILE_DIR: dir },
  });
  if (r.status !== 0) console.error(`profile: run ${i + 1} exited ${r.status}`);
}
const profiles = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f)).map((f) => path.join(dir, f));

const map = sourceMap(JSON.parse(fs.readFileSync(`${bundle}.map`, 'utf8')));
const srcCache = new Map();
/** `file:line` of a bundle frame in the TypeScript sources (packages/ stripped), else Node's own name. */
function where(f) {
  if (!f.url.endsWith('dist/elfcopy-deps.cjs')) return f.url ? `${f.functionName || '(anonymous)'} (${f.url.replace(/^file:\/\/.*\//, '')})` : f.functionName;
  const k = `${f.lineNumber}:${f.columnNumber}`;
  let s = srcCache.get(k);
  if (s === undefined) {
    const o = map(f.lineNumber, f.columnNumber);
    if (o) {
      const file = path.resolve(path.dirname(bundle), o.source);
      s = `${declaredName(file, o.line) ?? f.functionName} ${path.relative(path.join(here, '..', 'packages'), file)}:${o.line + 1}`.trim();
    } else s = `bundle ${f.functionName}`;
    srcCache.set(k, s);
  }
  return s;
}
const sourceLines = new Map();
/** The name a TypeScript declaration line gives its function (`private resolveOne(`, `const cmpAt = (`). */
function declaredName(file, line) {
  let lines = sourceLines.get(file);
  if (lines === undefined) {
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n');
    } catch {
      lines = [];
    }
    sourceLines.set(file, lines);
  }
  const text = (lines[line] ?? '').replace(/^\s*(export |default |async |private |public |protected |static |readonly |function\*? |get |set )*/, '');
  return /^(?:const|let)\s+(\w+)\s*=/.exec(text)?.[1] ?? /^(\w+)\s*(?:<[^>]*>)?\s*\(/.exec(text)?.[1];
}
function phaseOf(chain) {
  const leaf = chain[0];
  if (leaf.functionName === '(garbage collector)') return 'garbage collection';
  if (leaf.functionName === '(idle)' || leaf.functionName === '(program)') return 'idle, V8 (program)';
  const srcs = chain.map(where);
  const has = (re) => srcs.some((s) => re.test(s));
  const native = !leaf.url || leaf.url.startsWith('node:');
  if (has(/ cli\/src\/format\//)) return 'output (--list: sort, escape, write)';
  if (has(/ elf-deps\/src\/inputs\.ts/)) return 'collectInputs (per argument)';
  if (has(/ elf-deps\/src\/(ldcache|library-index)\.ts/)) return 'ld.so.cache lookup';
  if (has(/ elf-deps\/src\/(elf\/|bytes\.ts)/)) return native ? 'ELF reading: system calls and Node fs' : 'ELF reading: JS parse';
  if (has(/ elf-deps\/src\/sysroot\.ts/)) return 'sysroot: realpath, stat, readdir';
  if (has(/ elf-deps\/src\//)) return 'resolver JS (BFS, mapObject, record, search paths)';
  if (has(/ cli\/src\//)) return 'CLI (commander, options)';
  return 'bundle load and Node module loader';
}

const phases = new Map();
const self = new Map();
const incl = new Map();
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
let total = 0;
const walls = [];
for (const file of profiles) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  walls.push((p.endTime - p.startTime) / 1000);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  p.samples.forEach((id, i) => {
    const t = (p.timeDeltas[i] ?? 0) / 1000;
    total += t;
    const chain = [];
    for (let x = id; x !== undefined; x = parent.get(x)) chain.push(byId.get(x).callFrame);
    add(phases, phaseOf(chain), t);
    add(self, where(chain[0]), t);
    for (const k of new Set(chain.map(where))) add(incl, k, t);
  });
}
if (!keep) fs.rmSync(dir, { recursive: true, force: true });

const n = profiles.length;
console.log(`W2 profile: deps --list of ${files.length} programs, ${n} runs under the sampling profiler (${walls.map((w) => w.toFixed(0)).join(', ')} ms each), mean ${(total / n).toFixed(1)} ms sampled per run`);
const print = (title, m, k) => {
  console.log(`\n${title}`);
  for (const [name, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k)) console.log(`  ${(v / n).toFixed(1).padStart(7)} ms ${((100 * v) / total).toFixed(0).padStart(3)} %  ${name}`);
};
print('by phase', phases, phases.size);
print('by self time', self, topN);
print('by inclusive time', incl, topN);
if (keep) console.log(`\nprofiles kept in ${dir}`);

/**
 * A source map v3 lookup (0-based generated line and column → 0-based original source and line), from
 * the map's Base64 VLQ mappings: the segment at or before the column on that line.
 */
function sourceMap(sm) {
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const val = new Map([...B64].map((c, i) => [c, i]));
  const lines = [];
  let src = 0;
  let oline = 0;
  let ocol = 0;
  for (const lineText of sm.mappings.split(';')) {
    const segs = [];
    let gcol = 0;
    for (const seg of lineText.split(',')) {
      if (seg === '') continue;
      const f = [];
      let shift = 0;
      let acc = 0;
      for (const c of seg) {
        const d = val.get(c);
        acc += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          f.push(acc & 1 ? -(acc >>> 1) : acc >>> 1);
          acc = 0;
          shift = 0;
        }
      }
      gcol += f[0];
      if (f.length >= 4) {
        src += f[1];
        oline += f[2];
        ocol += f[3];
        segs.push([gcol, src, oline]);
      }
    }
    lines.push(segs);
  }
  return (line, col) => {
    const segs = lines[line];
    if (!segs || segs.length === 0) return undefined;
    let lo = 0;
    let hi = segs.length - 1;
    if (segs[0][0] > col) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid][0] <= col) lo = mid;
      else hi = mid - 1;
    }
    return { source: sm.sources[segs[lo][1]], line: segs[lo][2] };
  };
}
