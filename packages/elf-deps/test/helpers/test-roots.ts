/**
 * The foreign Debian roots scripts/test-roots.sh builds (outside the clone, in $ELFCOPY_TEST_ROOTS or
 * /var/cache/elfcopy/test-roots): where each is, how to run its own loader (chroot, plus the qemu-user
 * binary copied into the root for a foreign architecture), and what to say when one is missing. Under
 * CI (CI=true) a missing root is a failure, not a skip.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOTS_DIR = process.env.ELFCOPY_TEST_ROOTS ?? '/var/cache/elfcopy/test-roots';

export interface TestRoot {
  name: string;
  /** Host path of the root. */
  dir: string;
  /** The qemu-user binary inside the root ('/qemu-aarch64-static'), or undefined when the host runs it. */
  qemu?: string;
  /** The root's loader (its glibc PT_INTERP). */
  loader: string;
}

const SPECS: Record<string, { qemu?: string; loader: string }> = {
  'trixie-amd64': { loader: '/lib64/ld-linux-x86-64.so.2' },
  'bookworm-arm64': { qemu: '/qemu-aarch64-static', loader: '/lib/ld-linux-aarch64.so.1' },
  'bookworm-s390x': { qemu: '/qemu-s390x-static', loader: '/lib/ld64.so.1' },
  'bookworm-armhf': { qemu: '/qemu-arm-static', loader: '/lib/ld-linux-armhf.so.3' },
  'bookworm-ppc64el': { qemu: '/qemu-ppc64le-static', loader: '/lib64/ld64.so.2' },
  'trixie-riscv64': { qemu: '/qemu-riscv64-static', loader: '/lib/ld-linux-riscv64-lp64d.so.1' },
};

/** The newest complete build of root `name`, or why there is none. */
export function findTestRoot(name: string): { root: TestRoot } | { missing: string } {
  const spec = SPECS[name];
  if (!spec) return { missing: `no such test root: ${name}` };
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(ROOTS_DIR);
  } catch {
    return { missing: `${ROOTS_DIR} does not exist: run scripts/test-roots.sh (as root; .ci/run does)` };
  }
  const builds = entries
    .filter((e) => new RegExp(`^${name}-[0-9a-f]{16}$`).test(e) && fs.existsSync(path.join(ROOTS_DIR, e, '.complete')))
    .map((e) => path.join(ROOTS_DIR, e))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  const dir = builds[0];
  if (!dir) return { missing: `no complete ${name} root in ${ROOTS_DIR}: run scripts/test-roots.sh ${name}` };
  if (process.getuid?.() !== 0) return { missing: `chroot into ${dir} needs root` };
  const root: TestRoot = { name, dir, loader: spec.loader };
  if (spec.qemu) {
    if (!fs.existsSync(path.join(dir, spec.qemu))) return { missing: `${dir}${spec.qemu} is missing: rebuild with scripts/test-roots.sh ${name}` };
    root.qemu = spec.qemu;
  }
  return { root };
}

/** For describe.skipIf: the root, or undefined after saying why it is skipped (or failing under CI). */
export function testRootOrSkip(name: string): TestRoot | undefined {
  const found = findTestRoot(name);
  if ('root' in found) return found.root;
  if (process.env.CI === 'true') throw new Error(`CI: test root ${name} is required: ${found.missing}`);
  console.warn(`skipping the ${name} root comparisons: ${found.missing}`);
  return undefined;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv` inside the root (chroot; under its qemu binary when foreign). `cwd` only for a native root. */
export function inRoot(root: TestRoot, argv: string[], options: { env?: Record<string, string>; cwd?: string } = {}): RunResult {
  let cmd = root.qemu ? [root.qemu, ...argv] : argv;
  if (options.cwd !== undefined) {
    // A foreign root's shell could not run without binfmt_misc: only the host's architecture gets a cwd.
    if (root.qemu) throw new Error(`inRoot: no working directory for the foreign root ${root.name}`);
    cmd = ['/bin/sh', '-c', 'cd "$0" && exec "$@"', options.cwd, ...cmd];
  }
  const r = spawnSync('chroot', [root.dir, ...cmd], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LC_ALL: 'C', ...(options.env ?? {}) },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** The root's loader, run in it: `LOADER ARGS…`. */
export function runLoader(root: TestRoot, args: string[], env: Record<string, string> = {}): RunResult {
  return inRoot(root, [root.loader, ...args], { env });
}

export interface TraceList {
  /** Paths as the loader printed them (after `=>`, or alone for the loader itself). */
  paths: string[];
  /** Names printed `=> not found`. */
  missing: string[];
  /** The loader said the file is not dynamic. */
  notDynamic: boolean;
}

/** Parses ldd / `ld.so --list` output for one file (the vDSO and qemu's unnamed entry dropped). */
export function parseTraceList(text: string): TraceList {
  const out: TraceList = { paths: [], missing: [], notDynamic: /not a dynamic executable|statically linked/.test(text) };
  for (const line of text.split('\n')) {
    const t = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\S+) => not found$/.exec(t))) out.missing.push(m[1] ?? '');
    else if ((m = /^\S+ => (\S+) \(0x[0-9a-f]+\)$/.exec(t))) out.paths.push(m[1] ?? '');
    else if ((m = /^(\/\S*) \(0x[0-9a-f]+\)$/.exec(t))) out.paths.push(m[1] ?? '');
  }
  return out;
}
