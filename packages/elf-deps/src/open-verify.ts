/**
 * dl-load.c open_verify: whether a candidate file is one this loader can map, judged from its ELF header
 * alone, as ld.so judges it; nothing is executed or mapped.
 */
import { ByteSource } from './bytes.js';
import { ElfDepsError, ElfFormatError, NotElfError, UnreadableFileError } from './errors.js';
import { ELFOSABI_GNU, ELFOSABI_SYSV, ET_DYN, ET_EXEC, EV_CURRENT, machineName } from './elf/constants.js';
import { ElfFile, readElfInfo, type ElfInfo } from './elf/file.js';
import { PHDR_SIZE, readHeader } from './elf/header.js';
import type { ByteOrder, ElfClass } from './elf/fields.js';
import type { SysRoot } from './sysroot.js';

export type VerifyOutcome =
  | { ok: true; info: ElfInfo; file?: ElfFile }
  | { ok: false; reason: 'wrong-class' | 'wrong-machine'; detail: string }
  | { ok: false; reason: 'invalid'; detail: string; error: ElfDepsError };

/**
 * dl-load.c open_verify: a file of another class or machine is skipped (the search goes on); any other
 * defect (not ELF, truncated, other byte order, OS ABI, e_type, phentsize) is fatal for this name.
 */
/**
 * With `notes`, the info carries the file's `.note.dlopen` entries; with `keep`, the outcome carries the
 * file as an ElfFile for later reads. The descriptor is closed either way.
 */
/** The part of a LoaderTarget open_verify checks a file against. */
export interface VerifyTarget {
  elfClass: ElfClass;
  machine: number;
  byteOrder: ByteOrder;
}

export function verifyCandidate(root: SysRoot, candidate: string, target: VerifyTarget, read: { notes?: boolean; keep?: boolean } = {}): VerifyOutcome {
  let src: ByteSource;
  try {
    src = root.open(candidate);
  } catch (err) {
    if (err instanceof ElfDepsError) return { ok: false, reason: 'invalid', detail: err.message, error: err };
    throw err;
  }
  let adopted = false;
  try {
    const parsed = readHeader(src);
    const { header } = parsed;
    if (header.elfClass !== target.elfClass) {
      return { ok: false, reason: 'wrong-class', detail: `ELF${header.elfClass}, the loader needs ELF${target.elfClass}` };
    }
    const fail = (msg: string, field: string, offset: number): VerifyOutcome => ({
      ok: false,
      reason: 'invalid',
      detail: msg,
      error: new ElfFormatError(candidate, field, offset, msg),
    });
    if (header.byteOrder !== target.byteOrder) return fail(`ELF file data encoding not ${target.byteOrder}-endian`, 'e_ident[EI_DATA]', 5);
    if (header.identVersion !== EV_CURRENT) return fail('ELF file version ident does not match current one', 'e_ident[EI_VERSION]', 6);
    if (header.osAbi !== ELFOSABI_SYSV && header.osAbi !== ELFOSABI_GNU) return fail('ELF file OS ABI invalid', 'e_ident[EI_OSABI]', 7);
    if (header.abiVersion !== 0 && !(header.osAbi === ELFOSABI_GNU && header.abiVersion <= 4)) return fail('ELF file ABI version invalid', 'e_ident[EI_ABIVERSION]', 8);
    if (!header.padZero) return fail('nonzero padding in e_ident', 'e_ident[EI_PAD]', 9);
    if (header.version !== EV_CURRENT) return fail('ELF file version does not match current one', 'e_version', 20);
    if (header.machine !== target.machine) {
      return { ok: false, reason: 'wrong-machine', detail: `${machineName(header.machine)}, the loader needs ${machineName(target.machine)}` };
    }
    if (header.type !== ET_DYN && header.type !== ET_EXEC) return fail('only ET_DYN and ET_EXEC can be loaded', 'e_type', 16);
    if (header.phentsize !== PHDR_SIZE[header.elfClass]) return fail("ELF file's phentsize not the expected size", 'e_phentsize', 0);
    if (!read.keep && !read.notes) return { ok: true, info: readElfInfo(src, parsed) };
    // The file owns src from here (and closes it when its opening read fails).
    adopted = true;
    const file = ElfFile.adopt(src, parsed, () => root.open(candidate));
    try {
      return read.keep ? { ok: true, info: file.snapshot(read), file } : { ok: true, info: file.snapshot(read) };
    } finally {
      file.close();
    }
  } catch (err) {
    if (err instanceof NotElfError || err instanceof ElfFormatError || err instanceof UnreadableFileError) {
      const detail = err instanceof NotElfError ? 'invalid ELF header' : err.message;
      return { ok: false, reason: 'invalid', detail, error: err };
    }
    throw err;
  } finally {
    if (!adopted) src.close();
  }
}
