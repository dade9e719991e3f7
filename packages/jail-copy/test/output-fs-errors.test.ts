/**
 * An image's or an SBOM's output whose file system refuses a write — over quota (EDQUOT), failing (EIO),
 * file too large (EFBIG), permission (EACCES) — is an OutputIoError naming the output as the user gave
 * it (never a temporary beside it), with the errno, and nothing is left at the final path: an older file
 * there stays as it was. These errnos cannot be made on demand here (ENOSPC and EROFS are real, on a
 * tmpfs, in the CLI's image and sbom tests): they are injected into the fs calls the writers use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OutputIoError, buildImage, writeSbom } from '../src/index.js';
import { requireRoot, tempDir } from './helpers/jail.js';

/** The next call of `op` (after it is armed) fails with `code`, as the kernel would have it. */
const fault = vi.hoisted(() => ({ op: '', code: '' }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const wrap = <A extends unknown[], R>(op: string, f: (...a: A) => R) => (...a: A): R => {
    if (fault.op === op) {
      const code = fault.code;
      fault.op = '';
      throw Object.assign(new Error(`${code}: injected failure, ${op} '${String(a[0])}'`), { code, syscall: op, path: String(a[0]) });
    }
    return f(...a);
  };
  const mocked = { ...real, writeFileSync: wrap('writeFileSync', real.writeFileSync), renameSync: wrap('renameSync', real.renameSync), fsyncSync: wrap('fsyncSync', real.fsyncSync) };
  return { ...mocked, default: mocked };
});

const tmp = tempDir('output-fs-errors');
const jail = path.join(tmp, 'jail');
beforeAll(() => {
  requireRoot();
  fs.mkdirSync(path.join(jail, 'bin'), { recursive: true });
  fs.copyFileSync('/usr/bin/true', path.join(jail, 'bin/true'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The error `run` fails with, the fault disarmed after. */
async function failure(op: string, code: string, run: () => Promise<unknown>): Promise<unknown> {
  fault.op = op;
  fault.code = code;
  try {
    await run();
  } catch (err) {
    return err;
  } finally {
    fault.op = '';
  }
  throw new Error(`${op} ${code}: the run did not fail`);
}

describe("an output's file system refuses a write", () => {
  for (const [op, code] of [['writeFileSync', 'EDQUOT'], ['writeFileSync', 'EFBIG'], ['fsyncSync', 'EIO'], ['renameSync', 'EACCES']] as const) {
    it(`sbom --output: ${code} in ${op} is an OutputIoError naming the file; an older SBOM there stays`, async () => {
      const out = path.join(tmp, `bom-${code}.json`);
      fs.writeFileSync(out, 'older\n');
      const err = await failure(op, code, () => writeSbom(jail, { output: out }));
      expect(err).toBeInstanceOf(OutputIoError);
      expect(err).toMatchObject({ path: out, code, name: 'OutputIoError' });
      expect((err as Error).message).toMatch(new RegExp(`^cannot be written: injected failure \\(${code}\\); nothing was changed there$`));
      expect(fs.readFileSync(out, 'utf8')).toBe('older\n');
      expect(fs.readdirSync(tmp).filter((n) => n.includes('elfcopy-tmp'))).toEqual([]);
    });
  }

  for (const [op, code] of [['writeFileSync', 'EDQUOT'], ['writeFileSync', 'EIO'], ['renameSync', 'EFBIG']] as const) {
    it(`image --oci and --tar: ${code} in ${op} is an OutputIoError naming the output, and no layout or archive is left`, async () => {
      for (const kind of ['oci', 'tar'] as const) {
        const out = path.join(tmp, `image-${code}-${kind}`);
        const err = await failure(op, code, () => buildImage(jail, { tag: 'x', [kind]: out, compression: 'none' }));
        expect(err, kind).toBeInstanceOf(OutputIoError);
        expect(err, kind).toMatchObject({ path: out, code });
        expect(fs.existsSync(out), kind).toBe(false);
        expect(fs.readdirSync(tmp).filter((n) => n.includes('elfcopy-tmp')), kind).toEqual([]);
      }
    });
  }
});
