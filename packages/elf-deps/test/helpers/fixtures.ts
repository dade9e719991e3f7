/**
 * Fixtures built by the tests themselves, in temp dirs: C programs compiled with gcc, patched with
 * patchelf, and the typed-outcome wrapper every malformed-input check uses.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { ElfDepsError, ElfFile, readElf, type ElfInfo, type ElfRaw, type ReadElfOptions } from '../../src/index.js';

/** A fresh temp dir; remove it with `fs.rmSync(dir, { recursive: true, force: true })`. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `elfcopy-${prefix}-`));
}

/** Compiles `source` (C) into `dir/out` with gcc and `flags`; returns the output path. */
export function compileC(dir: string, out: string, source: string, flags: readonly string[] = []): string {
  const src = path.join(dir, `${out}.c`);
  fs.writeFileSync(src, source);
  const target = path.join(dir, out);
  execFileSync('gcc', ['-o', target, src, ...flags], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  return target;
}

/** Runs patchelf on `file` (in place). */
export function patchelf(file: string, args: readonly string[]): void {
  execFileSync('patchelf', [...args, file], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export type ReadOutcome = { ok: true; info: ElfInfo } | { ok: false; error: ElfDepsError };

/**
 * Reads `file`: the info, or the typed error. Anything that is not an ElfDepsError (a RangeError from a
 * Buffer read, a TypeError) is a reader bug and is rethrown so that the test fails on it.
 */
export function readOutcome(file: string, options: ReadElfOptions = {}): ReadOutcome {
  try {
    return { ok: true, info: readElf(file, options) };
  } catch (err) {
    if (err instanceof ElfDepsError) return { ok: false, error: err };
    throw err;
  }
}

/** The outcome as one word: 'ok' or the typed error's class name. */
export function outcomeName(file: string, options: ReadElfOptions = {}): string {
  const r = readOutcome(file, options);
  return r.ok ? 'ok' : r.error.name;
}

/**
 * Bundles the reader (src/index.ts) with esbuild into `dir/reader.mjs` plus a one-file runner, so that a
 * check that could hang the test process (a FIFO that blocks open) runs in a child with a timeout.
 */
export function bundleReaderRunner(dir: string): string {
  const bundle = path.join(dir, 'reader.mjs');
  buildSync({
    entryPoints: [fileURLToPath(new URL('../../src/index.ts', import.meta.url))],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  const runner = path.join(dir, 'run-reader.mjs');
  fs.writeFileSync(
    runner,
    `import { readElf, ElfDepsError } from ${JSON.stringify(pathToFileURL(bundle).href)};
const t0 = performance.now();
let result;
try {
  readElf(process.argv[2], { versions: true });
  result = { outcome: 'ok' };
} catch (err) {
  result = err instanceof ElfDepsError ? { outcome: err.name, kind: err.kind } : { outcome: 'untyped ' + String(err) };
}
console.log(JSON.stringify({ ...result, ms: performance.now() - t0 }));
`,
  );
  return runner;
}

export interface ChildRead {
  timedOut: boolean;
  outcome?: string;
  kind?: string;
  ms?: number;
}

/** Runs the bundled reader on `file` in a child node process, killed after `timeoutMs`. */
export function readInChild(runner: string, file: string, timeoutMs: number): ChildRead {
  const r = spawnSync(process.execPath, [runner, file], { encoding: 'utf8', timeout: timeoutMs });
  if (r.error || r.signal) return { timedOut: true };
  const parsed: unknown = JSON.parse(r.stdout.trim());
  const rec = parsed as { outcome?: unknown; kind?: unknown; ms?: unknown };
  const out: ChildRead = { timedOut: false };
  if (typeof rec.outcome === 'string') out.outcome = rec.outcome;
  if (typeof rec.kind === 'string') out.kind = rec.kind;
  if (typeof rec.ms === 'number') out.ms = rec.ms;
  return out;
}

/** readElf with the raw view (program headers, dynamic tags, string table location) typed in. */
export function readElfRaw(file: string, options: ReadElfOptions = {}): ElfInfo & { raw?: ElfRaw } {
  const elf = ElfFile.open(file);
  try {
    return { ...elf.snapshot(options), raw: elf.raw() };
  } finally {
    elf.close();
  }
}
