/**
 * V8's settings for a batch (src/batch-heap.ts): which `deps` runs set them, and that a run under them
 * prints what the same programs give without them. Each run goes through the real bin, with a preload
 * (node -r) that records every v8.setFlagsFromString call and writes them out when the process exits:
 * the bundle reaches the same node:v8 module object through process.getBuiltinModule.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_ARGUMENTS, BATCH_INTERRUPT_BUDGET } from '../src/batch-heap.js';
import { ELFCOPY } from './helpers.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-batch-tiering-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PROBE = path.join(tmp, 'probe.cjs');
fs.writeFileSync(
  PROBE,
  `'use strict';
const v8 = require('node:v8');
const fs = require('node:fs');
const flags = [];
const real = v8.setFlagsFromString;
v8.setFlagsFromString = (f) => { flags.push(f); return real.call(v8, f); };
process.on('exit', () => fs.writeFileSync(process.env.ELFCOPY_TEST_PROBE, JSON.stringify(flags)));
`,
);

let runs = 0;
async function probed(args: string[]): Promise<{ exitCode: number | undefined; stdout: string; flags: string[] }> {
  const out = path.join(tmp, `flags-${runs++}.json`);
  const r = await execa('node', ['-r', PROBE, ELFCOPY, ...args], { reject: false, cwd: tmp, stdin: 'ignore', env: { NO_COLOR: '1', ELFCOPY_TEST_PROBE: out }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { exitCode: r.exitCode, stdout: r.stdout, flags: JSON.parse(fs.readFileSync(out, 'utf8')) as string[] };
}

/** Regular ELF files of /usr/bin (the magic read, not the name), sorted: the programs of a batch. */
function elfPrograms(count: number): string[] {
  const out: string[] = [];
  const head = Buffer.alloc(4);
  for (const name of fs.readdirSync('/usr/bin').sort()) {
    const p = `/usr/bin/${name}`;
    const st = fs.lstatSync(p);
    if (!st.isFile() || st.size < 64) continue;
    const fd = fs.openSync(p, 'r');
    try {
      if (fs.readSync(fd, head, 0, 4, 0) !== 4 || head.readUInt32BE(0) !== 0x7f454c46) continue;
    } finally {
      fs.closeSync(fd);
    }
    out.push(p);
    if (out.length === count) break;
  }
  return out;
}

const BUDGET_FLAG = `--interrupt-budget=${BATCH_INTERRUPT_BUDGET}`;

describe('a deps batch optimises later, and prints the same', () => {
  const programs = elfPrograms(BATCH_ARGUMENTS);

  it(`finds ${BATCH_ARGUMENTS} ELF programs in /usr/bin to run`, () => {
    expect(programs).toHaveLength(BATCH_ARGUMENTS);
  });

  it('one program (W1) and a batch one short of the threshold set no V8 flag', async () => {
    const one = await probed(['deps', '--list', programs[0] ?? '/usr/bin/true']);
    expect(one.exitCode).toBe(0);
    expect(one.flags).toEqual([]);
    const short = await probed(['deps', '--list', ...programs.slice(0, BATCH_ARGUMENTS - 1)]);
    expect(short.flags).toEqual([]);
  });

  it(`${BATCH_ARGUMENTS} programs set the budget once, and their --list is the union of two smaller runs' (which set none)`, async () => {
    const half = BATCH_ARGUMENTS / 2;
    const batch = await probed(['deps', '--list', ...programs]);
    expect(batch.flags).toEqual([BUDGET_FLAG]);
    const first = await probed(['deps', '--list', ...programs.slice(0, half)]);
    const second = await probed(['deps', '--list', ...programs.slice(half)]);
    expect(first.flags).toEqual([]);
    expect(second.flags).toEqual([]);
    const union = [...new Set([...first.stdout.split('\n'), ...second.stdout.split('\n')].filter((l) => l !== ''))].sort();
    expect(batch.stdout.split('\n')).toEqual(union);
    expect(batch.exitCode).toBe(Math.max(first.exitCode ?? -1, second.exitCode ?? -1));
  });

  it('--json of the batch is the same with the budget as the two halves run without it, root by root', async () => {
    const half = BATCH_ARGUMENTS / 2;
    const batch = await probed(['deps', '--json', ...programs]);
    expect(batch.flags).toEqual([BUDGET_FLAG]);
    const first = await probed(['deps', '--json', ...programs.slice(0, half)]);
    const second = await probed(['deps', '--json', ...programs.slice(half)]);
    type Root = { path: string };
    const roots = (s: string): Root[] => (JSON.parse(s) as { roots: Root[] }).roots;
    expect(roots(batch.stdout)).toEqual([...roots(first.stdout), ...roots(second.stdout)]);
  });

  it('a directory argument sets the young-generation bound and the budget, each once', async () => {
    const dir = path.join(tmp, 'dir');
    fs.mkdirSync(dir);
    for (const p of programs.slice(0, 2)) fs.copyFileSync(p, path.join(dir, path.basename(p)));
    const r = await probed(['deps', '--list', dir, path.join(tmp, 'dir')]);
    expect(r.exitCode).toBe(0);
    expect([...r.flags].sort()).toEqual(['--semi-space-growth-factor=1', BUDGET_FLAG].sort());
  });
});
