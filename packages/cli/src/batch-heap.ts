/**
 * A directory argument means a batch (thousands of files): keep V8's young generation from doubling,
 * which holds peak RSS near 100 MB on a closure of all of /usr for ~5% more time. collectInputs says
 * when it is about to walk a directory (ResolveOptions.onDirectoryInput), from the stat it makes anyway:
 * the bin used to ask the kernel about every argument first (1065 access() calls for W2's explicit
 * list). Late is fine: the flag is read when the young generation next grows, and it must come after
 * the bundle is compiled anyway (a flag changed before makes V8 reject the code cache).
 */
let bounded = false;

export function boundYoungGeneration(): void {
  if (bounded) return;
  bounded = true;
  // node:v8 costs ~1.5 ms to load, so only for a batch, and without importing node:module (0.3 ms)
  // for a require. process.getBuiltinModule is Node 20.16's; on an older Node 20 the bound is not set
  // (more memory, the same output).
  const v8 = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:v8') : undefined;
  v8?.setFlagsFromString('--semi-space-growth-factor=1');
}
