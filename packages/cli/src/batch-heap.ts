/**
 * V8's settings for a batch (thousands of files), set once the run is known to be one. Late is fine, and
 * required: every flag here must come after the bundle is compiled (a flag changed before makes V8
 * reject the code cache), and V8 reads each of them again where it applies.
 *
 * - A directory argument: keep V8's young generation from doubling, which holds peak RSS near 100 MB on
 *   a closure of all of /usr for ~5% more time. collectInputs says when it is about to walk a directory
 *   (ResolveOptions.onDirectoryInput), from the stat it makes anyway: the bin used to ask the kernel about
 *   every argument first (1065 access() calls for W2's explicit list). The flag is read when the young
 *   generation next grows.
 * - A directory or BATCH_ARGUMENTS paths and more: optimise later (tierUpLater).
 */
let bounded = false;
let tiering = false;

/**
 * Path arguments from which a `deps` run is a batch for tierUpLater. Below it the run is a few programs
 * (W1: one, ~20 libraries), where V8 optimises one function or none and loading node:v8 (~1.5 ms) would
 * cost more than the later tier-up saves.
 */
export const BATCH_ARGUMENTS = 64;

/**
 * The profiler budget (bytecode executed) a function spends between V8's tier-up checks, 8 times V8
 * 11.3's default of 67,584 (Node 20). A batch runs the same reader and resolver functions a few
 * thousand times in one short process: at the default V8 sent ~50 of them to TurboFan, whose background
 * jobs took ~200 ms of CPU on a 2-core machine for a run of ~250 ms (W2, `--trace-opt`), competing with
 * the main thread for the other core. With the larger budget only the hottest functions are optimised,
 * later, on better feedback. Measured in whole runs against the default: W2 (1065 programs) wall
 * 0.72–0.90 and CPU 0.66–0.72 at 4–16 times the budget; `deps --list /usr` (~1.7 s) CPU 0.86–0.93,
 * wall 0.88–1.03 at 4–16 times, but 1.16 at 64 times (its hot loops then stay unoptimised too long);
 * `--no-opt` made /usr 1.6 times slower. The figures for 8 times are in the commit that set it.
 */
export const BATCH_INTERRUPT_BUDGET = 8 * 67_584;

function v8Module(): typeof import('node:v8') | undefined {
  // node:v8 costs ~1.5 ms to load, so only for a batch, and without importing node:module (0.3 ms)
  // for a require. process.getBuiltinModule is Node 20.16's; on an older Node 20 no flag is set (more
  // memory or time, the same output).
  return typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:v8') : undefined;
}

/** A directory argument (ResolveOptions.onDirectoryInput): the young-generation bound and the later tier-up. */
export function directoryBatch(): void {
  boundYoungGeneration();
  tierUpLater();
}

/** `count` paths named one by one (W2: 1065 programs, no directory to say so): the later tier-up from BATCH_ARGUMENTS on. */
export function namedBatch(count: number): void {
  if (count >= BATCH_ARGUMENTS) tierUpLater();
}

function boundYoungGeneration(): void {
  if (bounded) return;
  bounded = true;
  v8Module()?.setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * A larger tier-up budget for the rest of the process (BATCH_INTERRUPT_BUDGET). Only how soon V8
 * optimises a function changes, never what it computes: the output is the same byte for byte.
 */
function tierUpLater(): void {
  if (tiering) return;
  tiering = true;
  v8Module()?.setFlagsFromString(`--interrupt-budget=${BATCH_INTERRUPT_BUDGET}`);
}
