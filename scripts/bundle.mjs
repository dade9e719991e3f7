#!/usr/bin/env node
/**
 * Bundles the CLI (commander + elf-deps + jail-copy + cli) into one minified CommonJS file.
 * Why: Node 20 spends ~35 ms resolving and loading ~40 ESM files before elfcopy does any work; the
 * benchmark's W1 goal (a whole closure within 1.3x of `node -e 0`) leaves ~20 ms. One CJS file cuts
 * start-up to ~11 ms over the floor. The libraries stay plain ESM (dist/ from tsc) for npm users.
 */
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'packages', 'cli');
const { version } = JSON.parse(readFileSync(path.join(cli, 'package.json'), 'utf8'));

/**
 * commander requires node:child_process at load time, for executable subcommands elfcopy does not
 * have; loading it pulls in net, dgram and streams: ~9 ms of every run, measured. Inside commander only,
 * it becomes an object that loads the real module on first use.
 */
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}commander${path.sep}`) ? { path: 'lazy-child-process', namespace: 'elfcopy-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'elfcopy-lazy' }, () => ({
      contents: "let real; module.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });",
      loader: 'js',
    }));
  },
};

/**
 * `import * as fs from 'node:fs'` in a source file becomes `const fs = require('node:fs')` in the bundle.
 * esbuild's CommonJS interop (__toESM) otherwise gives each of the 18 modules that import node:fs or
 * node:path so a fresh object with a getter for every export (104 for fs): ~1 ms and ~0.35 MB of
 * garbage on every run, measured, before elfcopy does anything. The two are the same functions; a
 * namespace import of a Node module is never written to, and no source takes its `default`.
 */
const NODE_NAMESPACE_IMPORT = /^import \* as ([A-Za-z_$][\w$]*) from '(node:[a-z_/]+)';$/gm;
const nodeNamespaceImportsAsRequire = {
  name: 'node-namespace-imports-as-require',
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!NODE_NAMESPACE_IMPORT.test(text)) return undefined;
      NODE_NAMESPACE_IMPORT.lastIndex = 0;
      return { contents: text.replace(NODE_NAMESPACE_IMPORT, "const $1 = require('$2');"), loader: 'ts' };
    });
  },
};

await build({
  // Three bundles, each whole: elfcopy.cjs (every command), elfcopy-deps.cjs (deps alone: bin/elfcopy.cjs
  // starts it for `elfcopy deps`), which leaves jail-copy, execa and the other commands unparsed: ~240 KB
  // less to load on the closure's start-up; and elfcopy-copy.cjs (copy alone, for `elfcopy PATH… --into
  // JAIL`): no image, sbom, init, verify, audit, unit or trace command to build or load.
  entryPoints: { elfcopy: path.join(cli, 'src', 'main.ts'), 'elfcopy-deps': path.join(cli, 'src', 'deps-main.ts'), 'elfcopy-copy': path.join(cli, 'src', 'copy-main.ts') },
  outdir: path.join(cli, 'dist'),
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  // A build id for plan-cache keys (packages/cli/src/build-id.ts): a plan made by another build is never reused.
  define: { 'process.env.ELFCOPY_BUNDLED_VERSION': JSON.stringify(version), 'process.env.ELFCOPY_BUILD_ID': JSON.stringify(`${version}+${Date.now().toString(36)}`) },
  logLevel: 'warning',
  plugins: [lazyChildProcessForCommander, nodeNamespaceImportsAsRequire],
  // image and sbom's libraries stay out of the bundle: they are jail-copy's npm dependencies, installed
  // beside it, and required only when those commands run — bundled, they made every command's start-up
  // parse ~270 KB more (~3 ms of user time, measured on W1). The CycloneDX library's optional plug-ins
  // (XML, schema validation) are never used at run time; the library tries each in a try/catch.
  external: ['tar-stream', '@cyclonedx/cyclonedx-library', 'packageurl-js', 'xmlbuilder2', 'libxmljs2', 'ajv', 'ajv-formats', 'ajv-formats-draft2019'],
  // import.meta is only read on the tsc build's path (version, profiles dir); the bundle defines or requires instead.
  logOverride: { 'empty-import-meta': 'silent' },
  // Workspace packages resolve to their TypeScript sources, so the bundle never lags the sources.
  alias: {
    '@elfcopy/elf-deps/internal': path.join(root, 'packages', 'elf-deps', 'src', 'internal.ts'),
    '@elfcopy/elf-deps': path.join(root, 'packages', 'elf-deps', 'src', 'index.ts'),
    '@elfcopy/jail-copy/internal': path.join(root, 'packages', 'jail-copy', 'src', 'internal.ts'),
    '@elfcopy/jail-copy/copy': path.join(root, 'packages', 'jail-copy', 'src', 'run', 'copy-into-jail.ts'),
    '@elfcopy/jail-copy/defaults': path.join(root, 'packages', 'jail-copy', 'src', 'defaults.ts'),
    '@elfcopy/jail-copy/profile-spec': path.join(root, 'packages', 'jail-copy', 'src', 'profiles', 'profile-spec.ts'),
    '@elfcopy/jail-copy': path.join(root, 'packages', 'jail-copy', 'src', 'index.ts'),
  },
});

// V8 code cache for each bundle (see bin/elfcopy.cjs), made by the Node that will run it, after the
// command lines that bundle typically runs (scripts/code-cache.cjs), so that what they compile lazily is
// in the cache too. The copy bundle's is a re-run's (the plan reused, nothing to copy: W3b): a jail in
// a temporary directory is filled first by a process of its own, so that the fresh copy's planning and
// copying code, which a re-run never runs, stays out of the cache — deserializing it cost the re-run
// more (~1 ms) than compiling it lazily costs a fresh copy, whose own run is ten times longer.
// V8 rejects a cache made under other heap flags: use the bin's own (its shebang line).
const shebang = readFileSync(path.join(cli, 'bin', 'elfcopy.cjs'), 'utf8').split('\n')[0];
const flags = shebang.split(/\s+/).filter((w) => w.startsWith('--'));
const warmTmp = mkdtempSync(path.join(tmpdir(), 'elfcopy-code-cache-'));
const warmCopy = ['/usr/bin/true', '--into', path.join(warmTmp, 'jail'), '--with', 'none', '--quiet'];
const warmUps = {
  'elfcopy.cjs': { runs: [['deps', '--list', '/usr/bin/true']] },
  'elfcopy-deps.cjs': { runs: [['deps', '--list', '/usr/bin/true']] },
  'elfcopy-copy.cjs': { before: warmCopy, runs: [warmCopy] },
};
try {
  for (const [bundle, { before, runs }] of Object.entries(warmUps)) {
    // A cache left from an earlier build would be rejected by V8 (the source differs) and cost the full
    // compile on every run without a word: it goes first, and a run that writes none fails the build.
    const cache = path.join(cli, 'dist', `${bundle}.cache`);
    rmSync(cache, { force: true });
    // Its outcome only shapes the cache: a failed fill leaves the warm-up a fresh copy's run.
    if (before) spawnSync(process.execPath, [...flags, path.join(cli, 'dist', bundle), ...before], { stdio: 'inherit' });
    execFileSync(process.execPath, [...flags, path.join(root, 'scripts', 'code-cache.cjs'), path.join(cli, 'dist', bundle), JSON.stringify(runs)], { stdio: 'inherit' });
    if (!existsSync(cache)) throw new Error(`bundle: scripts/code-cache.cjs wrote no ${cache}`);
  }
} finally {
  rmSync(warmTmp, { recursive: true, force: true });
}
