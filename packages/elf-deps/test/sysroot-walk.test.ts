/**
 * SysRoot's confined component walk (realpath, resolve, pathComponents under a root, or on the host when
 * an observer asks for it). It keeps every prefix it resolved, with the links that prefix followed; these
 * tests hold it to two oracles on crafted trees: the kernel's own lookup in a chroot (python3's os.chroot
 * + os.stat: ELOOP, ENOENT/ENOTDIR, or the inode reached), and the walk as SysRoot made it before the
 * memo (below: every lookup walks every component again). Against the second, the answers, the entries
 * met and the set of paths the observer hears must be the same, query after query, in any order.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_SYMLINKS, PathResolutionError, Resolver, SysRoot, type PathComponent, type Resolution, type SysRootObserver } from '../src/internal.js';
import { useTempDirs } from './helpers/temp-dirs.js';
import { testRootOrSkip } from './helpers/test-roots.js';

const tempDir = useTempDirs();

interface Met {
  path: string;
  kind: PathComponent['kind'];
  target?: string;
  ino: number;
}
type Outcome = { real: string; met: Met[] } | 'missing' | 'loop';

class ReferenceLoop extends Error {}

/**
 * The walk before the memo, step for step: a queue of pending components, `..` popping the resolved
 * prefix, a link's target pushed in front, the link count over the whole lookup. No cache at all.
 */
function referenceWalk(root: string, p: string, see: (p: string) => void): { real: string; met: Met[] } | undefined {
  const host = (inRoot: string): string => (root === '/' ? inRoot : root + inRoot);
  const pending = p.split('/').filter((c) => c.length > 0);
  const done: string[] = [];
  const met: Met[] = [];
  let followed = 0;
  for (let comp = pending.shift(); comp !== undefined; comp = pending.shift()) {
    if (comp === '.') continue;
    if (comp === '..') {
      done.pop();
      continue;
    }
    const inRoot = '/' + [...done, comp].join('/');
    see(inRoot);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host(inRoot));
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++followed > MAX_SYMLINKS) throw new ReferenceLoop(p);
      const target = fs.readlinkSync(host(inRoot));
      met.push({ path: inRoot, kind: 'symlink', target, ino: st.ino });
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((c) => c.length > 0));
      continue;
    }
    const kind = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
    if (pending.length > 0 && kind !== 'directory') return undefined;
    met.push({ path: inRoot, kind, ino: st.ino });
    done.push(comp);
  }
  return { real: '/' + done.join('/'), met };
}

function referenceOutcome(root: string, p: string, see: (p: string) => void): Outcome {
  try {
    return referenceWalk(root, p, see) ?? 'missing';
  } catch (err) {
    if (err instanceof ReferenceLoop) return 'loop';
    throw err;
  }
}

const metOf = (c: PathComponent): Met => ({ path: c.path, kind: c.kind, ...(c.target !== undefined ? { target: c.target } : {}), ino: c.stat.ino });

/** One query of the walk under test, through one of its three doors, as an Outcome. */
function walkOutcome(view: SysRoot, p: string, door: 'realpath' | 'resolve' | 'pathComponents'): Outcome {
  try {
    if (door === 'realpath') {
      const real = view.realpath(p);
      // realpath gives no entries: take them from pathComponents (the memo answers it without a new see).
      return real === undefined ? 'missing' : { real, met: (view.pathComponents(p) ?? []).map(metOf) };
    }
    if (door === 'resolve') {
      const r: Resolution | undefined = view.resolve(p);
      const comps = view.pathComponents(p);
      if (r === undefined || comps === undefined) return r === undefined && comps === undefined ? 'missing' : { real: 'resolve and pathComponents disagree', met: [] };
      // resolve's links are the symlinks among the entries, in order.
      const links = comps.filter((c) => c.target !== undefined).map((c) => ({ link: c.path, target: c.target }));
      if (JSON.stringify(links) !== JSON.stringify(r.links)) return { real: `links differ: ${JSON.stringify(r.links)}`, met: [] };
      return { real: r.real, met: comps.map(metOf) };
    }
    const comps = view.pathComponents(p);
    return comps === undefined ? 'missing' : { real: view.realpath(p) ?? 'realpath missing', met: comps.map(metOf) };
  } catch (err) {
    if (err instanceof PathResolutionError) {
      expect(err.path).toBe(p.startsWith('/') || door !== 'realpath' ? p : '/' + p);
      return 'loop';
    }
    throw err;
  }
}

class SeenLog implements SysRootObserver {
  readonly walkComponents = true;
  readonly seenPaths = new Set<string>();
  readonly listedPaths = new Set<string>();
  seen(p: string): void {
    this.seenPaths.add(p);
  }
  listed(p: string): void {
    this.listedPaths.add(p);
  }
}

/**
 * A tree with every case the walk must get right: relative and absolute links, links to links, `..`
 * after a link, loops, a missing middle component, a file used as a directory, links that climb out
 * of the root, and link chains to count against MAX_SYMLINKS: `e0` is 20 links to a directory, in it
 * `k0` 20 more to a file (40 in all: resolves) and `m0` 21 more (41: a loop).
 */
function craftTree(): string {
  const r = tempDir('elfcopy-walk-');
  fs.mkdirSync(path.join(r, 'd1/d2/d3'), { recursive: true });
  fs.writeFileSync(path.join(r, 'd1/f'), 'f');
  fs.writeFileSync(path.join(r, 'd1/d2/f'), 'f2');
  fs.writeFileSync(path.join(r, 'top'), 't');
  const links: [string, string][] = [
    ['rel', 'd1/d2'],
    ['abs', '/d1/d2'],
    ['chain', 'rel'],
    ['abschain', '/chain/d3'],
    ['tofile', 'd1/d2/f'],
    ['updot', 'rel/..'],
    ['viafile', 'd1/f/x'],
    ['dotfile', 'd1/f/.'],
    ['loopA', 'loopB'],
    ['loopB', 'loopA'],
    ['self', 'self'],
    ['dangling', 'nowhere/x'],
    ['out', '../../../../..'],
    ['absout', '/../../../top'],
    ['slashy', 'd1//d2/'],
    ['d1/d2/back', '../../top'],
    ['d1/d2/hop', '../f'],
    ['d1/up', '..'],
    ['d1/d2/d3/root', '/'],
  ];
  for (let i = 0; i < 20; i++) links.push([`e${i}`, i === 19 ? 'd1/d2' : `e${i + 1}`]);
  for (let i = 0; i < 20; i++) links.push([`d1/d2/k${i}`, i === 19 ? 'f' : `k${i + 1}`]);
  for (let i = 0; i < 21; i++) links.push([`d1/d2/m${i}`, i === 20 ? 'f' : `m${i + 1}`]);
  for (const [at, target] of links) fs.symlinkSync(target, path.join(r, at));
  return r;
}

/** Every path of one to three components over `alphabet`, and a few longer ones. */
function pathsOver(alphabet: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of alphabet) {
    out.push(`/${a}`);
    for (const b of alphabet) {
      out.push(`/${a}/${b}`);
      for (const c of alphabet) out.push(`/${a}/${b}/${c}`);
    }
  }
  out.push('/', '', '.', '..', 'rel/f', '//rel//f', '/rel/f/', '/e0/k0', '/e0/m0', '/e0/k0/', '/abs/../../top', '/d1/d2/d3/root/d1/up/d1/d2/hop');
  return out;
}

const ALPHABET = ['d1', 'd2', 'f', 'top', 'rel', 'abs', 'chain', 'abschain', 'tofile', 'updot', 'viafile', 'dotfile', 'loopA', 'self', 'dangling', 'out', 'absout', 'slashy', 'back', 'hop', 'up', 'root', 'e0', 'k0', 'm0', 'nope', '..', '.'];

/**
 * The kernel's lookup of each path inside `root` as the root of a chroot (python3 os.chroot, then
 * os.stat, which follows every link): "loop" (ELOOP), "missing" (ENOENT, ENOTDIR) or the inode reached.
 */
function kernelOutcomes(root: string, paths: readonly string[]): (number | 'loop' | 'missing')[] {
  const script = [
    'import os, sys, json, errno',
    'paths = json.load(sys.stdin)',
    'os.chroot(sys.argv[1]); os.chdir("/")',
    'out = []',
    'for p in paths:',
    '    try: out.append(os.stat(p).st_ino)',
    '    except OSError as e: out.append("loop" if e.errno == errno.ELOOP else "missing" if e.errno in (errno.ENOENT, errno.ENOTDIR) else "errno %d" % e.errno)',
    'print(json.dumps(out))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, root], { input: JSON.stringify(paths), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 chroot oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as (number | 'loop' | 'missing')[];
}

const canChroot = process.getuid?.() === 0 && spawnSync('python3', ['-c', 'import os'], { encoding: 'utf8' }).status === 0;

describe("SysRoot's component walk, confined to the root", () => {
  const root = craftTree();
  const paths = pathsOver(ALPHABET);
  const doors = ['realpath', 'resolve', 'pathComponents'] as const;

  it.skipIf(!canChroot)('agrees with the kernel in a chroot: the file reached, missing (ENOENT/ENOTDIR) or a loop (ELOOP)', () => {
    // A trailing slash is left out: the kernel then asks for a directory, the walk (as before) does not.
    const asked = paths.filter((p) => p !== '' && !p.endsWith('/'));
    const kernel = kernelOutcomes(root, asked);
    const view = new SysRoot(root);
    const mismatches: string[] = [];
    let loops = 0;
    let found = 0;
    asked.forEach((p, i) => {
      let mine: number | 'loop' | 'missing';
      try {
        const real = view.realpath(p);
        mine = real === undefined ? 'missing' : fs.statSync(root + (real === '/' ? '' : real)).ino;
      } catch (err) {
        if (!(err instanceof PathResolutionError)) throw err;
        mine = 'loop';
      }
      if (mine === 'loop') loops++;
      else if (mine !== 'missing') found++;
      if (mine !== kernel[i]) mismatches.push(`${p}: walk ${mine}, kernel ${kernel[i]}`);
    });
    expect(mismatches).toEqual([]);
    // The corpus reaches every kind of answer, the 40-link limit from both sides included.
    expect(loops).toBeGreaterThan(100);
    expect(found).toBeGreaterThan(400);
    expect(asked).toContain('/e0/k0');
    expect(kernel[asked.indexOf('/e0/k0')]).not.toBe('loop');
    expect(kernel[asked.indexOf('/e0/m0')]).toBe('loop');
  });

  it('gives what the walk without a memo gave, and the observer hears the same paths, query after query', () => {
    for (const order of ['as listed', 'reversed', 'shuffled'] as const) {
      const list = order === 'as listed' ? paths : order === 'reversed' ? [...paths].reverse() : shuffled(paths, 16);
      const log = new SeenLog();
      const view = new SysRoot(root, { observer: log });
      const refSeen = new Set<string>();
      const mismatches: string[] = [];
      list.forEach((p, i) => {
        const door = doors[i % doors.length] ?? 'realpath';
        const want = referenceOutcome(view.root, p, (s) => refSeen.add(s));
        const got = walkOutcome(view, p, door);
        if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${order} ${door}(${JSON.stringify(p)}): ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
        if (log.seenPaths.size !== refSeen.size || [...refSeen].some((s) => !log.seenPaths.has(s))) {
          mismatches.push(`${order} after ${door}(${JSON.stringify(p)}): heard ${[...log.seenPaths].filter((s) => !refSeen.has(s)).join(' ')} beyond, missed ${[...refSeen].filter((s) => !log.seenPaths.has(s)).join(' ')}`);
        }
      });
      expect(mismatches.slice(0, 20)).toEqual([]);
    }
  });

  it('counts the links a kept prefix followed against the limit of the whole lookup', () => {
    // `e0` kept first (20 links), then below it 20 more resolve and 21 more are a loop; and the
    // other way round on a fresh view, where the loop is met before the prefix is kept alone.
    const a = new SysRoot(root);
    expect(a.realpath('/e0')).toBe('/d1/d2');
    expect(a.realpath('/e0/k0')).toBe('/d1/d2/f');
    expect(() => a.realpath('/e0/m0')).toThrow(PathResolutionError);
    expect(() => a.realpath('/e0/m0')).toThrow(/symbolic links/);
    const b = new SysRoot(root);
    expect(() => b.realpath('/e0/m0')).toThrow(PathResolutionError);
    expect(b.realpath('/e0/k0')).toBe('/d1/d2/f');
    expect(b.realpath('/d1/d2/m0')).toBe('/d1/d2/f');
    // A prefix that loops stays a loop below it; one that is missing stays missing.
    expect(() => b.pathComponents('/loopA/x/y')).toThrow(PathResolutionError);
    expect(() => b.pathComponents('/loopA/x/y/z')).toThrow(PathResolutionError);
    expect(b.resolve('/dangling/y')).toBeUndefined();
    expect(b.resolve('/nope/d1')).toBeUndefined();
    // A file kept as a path is no directory for a longer one, not even with `.` or `..` after it.
    expect(b.realpath('/tofile')).toBe('/d1/d2/f');
    expect(b.realpath('/tofile/.')).toBeUndefined();
    expect(b.realpath('/tofile/..')).toBeUndefined();
    expect(b.realpath('/tofile/')).toBe('/d1/d2/f');
  });

  it('walks a path longer than PATH_MAX as before (such a path is not kept)', () => {
    const log = new SeenLog();
    const view = new SysRoot(root, { observer: log });
    const refSeen = new Set<string>();
    // 12 KB of `d3/..` after a link: resolves, component by component, to what the walk without a memo gave.
    const long = '/rel' + '/d3/..'.repeat(2000) + '/f';
    expect(long.length).toBeGreaterThan(4096);
    expect(walkOutcome(view, long, 'resolve')).toEqual(referenceOutcome(view.root, long, (s) => refSeen.add(s)));
    expect(view.realpath(long)).toBe('/d1/d2/f');
    expect([...log.seenPaths].sort()).toEqual([...refSeen].sort());
    // Hostile 800 KB RPATH-like paths: missing at once, or `.` 400,000 times.
    const hostile = '/nope' + '/a'.repeat(400_000);
    expect(view.realpath(hostile)).toBeUndefined();
    expect(view.pathComponents('/d1' + '/.'.repeat(400_000) + '/f')?.map((c) => c.path)).toEqual(['/d1', '/d1/f']);
  });
});

describe('the walk on real trees: the consulted set of a closure is the same as the walk without a memo gave', () => {
  /** A view whose three doors of the walk are the reference walk: everything else is SysRoot's own. */
  class ReferenceRoot extends SysRoot {
    private readonly log: SeenLog;
    constructor(dir: string, log: SeenLog) {
      super(dir, { observer: log });
      this.log = log;
    }
    private ref(p: string): { real: string; met: Met[]; comps: PathComponent[] } | undefined {
      try {
        const w = referenceWalk(this.root, p, (s) => this.log.seen(s));
        if (w === undefined) return undefined;
        const comps = w.met.map((m) => ({ path: m.path, kind: m.kind, ...(m.target !== undefined ? { target: m.target } : {}), stat: fs.lstatSync(this.hostPath(m.path)) }));
        return { ...w, comps };
      } catch (err) {
        if (err instanceof ReferenceLoop) throw new PathResolutionError(p, 'too many levels of symbolic links (a symlink loop)');
        throw err;
      }
    }
    override realpath(p: string): string | undefined {
      return this.ref(p.startsWith('/') ? p : '/' + p)?.real;
    }
    override resolve(p: string): Resolution | undefined {
      const w = this.ref(p);
      return w && { real: w.real, links: w.met.filter((m) => m.target !== undefined).map((m) => ({ link: m.path, target: m.target ?? '' })) };
    }
    override pathComponents(p: string): PathComponent[] | undefined {
      return this.ref(p)?.comps;
    }
  }

  /** The closure of `inputs` under `dir`, and each object's path components (as a copy plan walks them). */
  function consulted(view: SysRoot, log: SeenLog, inputs: string[]): { seen: string[]; listed: string[]; objects: string[]; trace: string[] } {
    const graph = new Resolver({ root: view, detail: 'objects' }).resolve(inputs);
    const objects = [...graph.nodes.keys()].sort();
    const trace = objects.flatMap((p) => (view.pathComponents(p) ?? []).map((c) => `${c.path} ${c.kind} ${c.target ?? ''}`));
    return { seen: [...log.seenPaths].sort(), listed: [...log.listedPaths].sort(), objects, trace };
  }

  function compare(dir: string, inputs: string[]): void {
    const mineLog = new SeenLog();
    const refLog = new SeenLog();
    const mine = consulted(new SysRoot(dir, { observer: mineLog }), mineLog, inputs);
    const ref = consulted(new ReferenceRoot(dir, refLog), refLog, inputs);
    expect(mine.objects.length).toBeGreaterThan(5);
    expect(mine.seen.length).toBeGreaterThan(mine.objects.length);
    expect(mine).toEqual(ref);
  }

  const php = '/usr/sbin/php-fpm8.2';
  it.skipIf(!fs.existsSync(php))('php-fpm8.2 and every PHP extension on the host (the observer asks for the walk)', () => {
    const extDirs = fs.readdirSync('/usr/lib/php').filter((d) => /^\d{8}$/.test(d)).map((d) => `/usr/lib/php/${d}`);
    const exts = extDirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.so')).map((f) => `${d}/${f}`));
    expect(exts.length).toBeGreaterThan(5);
    compare('/', [php, ...exts]);
  });

  const arm64 = testRootOrSkip('bookworm-arm64');
  it.skipIf(!arm64)('every program in /bin of the bookworm-arm64 root', () => {
    if (!arm64) return;
    const progs = fs.readdirSync(path.join(arm64.dir, 'bin')).sort().map((n) => `/bin/${n}`);
    compare(arm64.dir, progs);
  });
});

/** `list` in a fixed pseudo-random order (a seeded LCG: the same order on every run). */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const out = [...list];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    const a = out[i];
    const b = out[j];
    if (a !== undefined && b !== undefined) {
      out[i] = b;
      out[j] = a;
    }
  }
  return out;
}
