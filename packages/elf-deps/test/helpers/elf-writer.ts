/**
 * A crafted-ELF byte writer: any class and byte order, with program headers (two PT_LOADs whose addresses
 * differ from their offsets, PT_INTERP, PT_DYNAMIC), a dynamic string table, version needs and
 * definitions, and section headers named as binutils expects (.dynamic, .dynstr, .gnu.version_r,
 * .gnu.version_d) so that readelf can check what the writer wrote. The layout is returned with the bytes
 * so that malformed-input tests can break one field at a known offset.
 */

export type CraftClass = 32 | 64;
export type CraftOrder = 'little' | 'big';

export interface CraftSpec {
  elfClass: CraftClass;
  byteOrder: CraftOrder;
  /** e_type; ET_DYN unless given. */
  type?: number;
  /** e_machine; x86-64 / i386 (little-endian) or PowerPC64 / PowerPC (big-endian) unless given. */
  machine?: number;
  interp?: string;
  needed?: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  auxiliary?: string[];
  filter?: string[];
  /** DT_FLAGS and DT_FLAGS_1 d_val; a bigint may set bits above 32 (ELF64). */
  flags?: number | bigint;
  flags1?: number | bigint;
  verneed?: { file: string; versions: { name: string; weak?: boolean }[] }[];
  /** The first entry is conventionally the BASE entry naming the file itself. */
  verdef?: { name: string; base?: boolean; parents?: string[] }[];
  /** e_phnum = PN_XNUM; the real count is written to section header 0's sh_info (gABI). */
  phnumXnum?: boolean;
  /** PT_NULL program headers added after the real ones. */
  extraPhdrs?: number;
  /** DT_STRTAB holds an address that no PT_LOAD maps: only the section headers locate .dynstr. */
  strtabOutsideLoad?: boolean;
  /** Write no section header table (e_shoff = 0), as sstrip does. */
  noSections?: boolean;
}

export interface Span {
  offset: number;
  size: number;
}

export interface CraftedLayout {
  ehsize: number;
  phoff: number;
  phentsize: number;
  /** The real number of program headers. */
  phnum: number;
  /** Offset of e_phnum inside the file header. */
  ePhnumAt: number;
  /** Program header index of each type written (first of its kind). */
  phIndex: { load: number; load2: number; interp?: number; dynamic: number };
  interp?: Span;
  dynstr: Span;
  /** Offset in .dynstr of every string written. */
  strings: Map<string, number>;
  verneed?: Span;
  verdef?: Span;
  dynamic: Span & { entries: [tag: number, value: number | bigint][] };
  shoff: number;
  shentsize: number;
  shnum: number;
  /** vaddr = offset + bias in the first PT_LOAD, offset + bias2 in the second. */
  bias: number;
  bias2: number;
}

export interface CraftedElf {
  bytes: Buffer;
  layout: CraftedLayout;
}

const EHDR = { 32: 52, 64: 64 } as const;
const PHDR = { 32: 32, 64: 56 } as const;
const SHDR = { 32: 40, 64: 64 } as const;

export const PT = { NULL: 0, LOAD: 1, DYNAMIC: 2, INTERP: 3 } as const;
export const DT = {
  NULL: 0,
  NEEDED: 1,
  STRTAB: 5,
  STRSZ: 10,
  SONAME: 14,
  RPATH: 15,
  RUNPATH: 29,
  FLAGS: 30,
  FLAGS_1: 0x6ffffffb,
  VERDEF: 0x6ffffffc,
  VERDEFNUM: 0x6ffffffd,
  VERNEED: 0x6ffffffe,
  VERNEEDNUM: 0x6fffffff,
  AUXILIARY: 0x7ffffffd,
  FILTER: 0x7fffffff,
} as const;
const SHT = { PROGBITS: 1, STRTAB: 3, DYNAMIC: 6, GNU_VERDEF: 0x6ffffffd, GNU_VERNEED: 0x6ffffffe } as const;
const SHF_ALLOC = 0x2;
const SHF_WRITE = 0x1;
/** An address in no PT_LOAD of a crafted file. */
export const UNMAPPED_ADDRESS = 0x7fff0000;

/** Writes integers of one ELF flavour (class and byte order) into a buffer. */
export class FieldWriter {
  constructor(
    readonly buf: Buffer,
    readonly elfClass: CraftClass,
    readonly byteOrder: CraftOrder,
  ) {}

  get word(): 4 | 8 {
    return this.elfClass === 64 ? 8 : 4;
  }

  u8(at: number, v: number): void {
    this.buf.writeUInt8(v, at);
  }

  u16(at: number, v: number): void {
    if (this.byteOrder === 'little') this.buf.writeUInt16LE(v, at);
    else this.buf.writeUInt16BE(v, at);
  }

  u32(at: number, v: number): void {
    if (this.byteOrder === 'little') this.buf.writeUInt32LE(v >>> 0, at);
    else this.buf.writeUInt32BE(v >>> 0, at);
  }

  u64(at: number, v: number | bigint): void {
    const big = BigInt.asUintN(64, BigInt(v));
    if (this.byteOrder === 'little') this.buf.writeBigUInt64LE(big, at);
    else this.buf.writeBigUInt64BE(big, at);
  }

  /** An address, offset or Xword: 4 bytes in ELF32, 8 in ELF64. */
  addr(at: number, v: number | bigint): void {
    if (this.elfClass === 64) this.u64(at, v);
    else this.u32(at, Number(BigInt.asUintN(32, BigInt(v))));
  }
}

/** Offsets of Elf_Phdr fields for one class. */
export function phdrFields(elfClass: CraftClass): { type: number; offset: number; vaddr: number; filesz: number; memsz: number; flags: number; align: number } {
  return elfClass === 64
    ? { type: 0, flags: 4, offset: 8, vaddr: 16, filesz: 32, memsz: 40, align: 48 }
    : { type: 0, offset: 4, vaddr: 8, filesz: 16, memsz: 20, flags: 24, align: 28 };
}

/** Offsets of Elf_Ehdr fields for one class. */
export function ehdrFields(elfClass: CraftClass): { phoff: number; shoff: number; phentsize: number; phnum: number; shentsize: number; shnum: number; shstrndx: number } {
  const w = elfClass === 64 ? 8 : 4;
  return {
    phoff: 24 + w,
    shoff: 24 + 2 * w,
    phentsize: 30 + 3 * w,
    phnum: 32 + 3 * w,
    shentsize: 34 + 3 * w,
    shnum: 36 + 3 * w,
    shstrndx: 38 + 3 * w,
  };
}

/** The SysV ELF hash (vna_hash / vd_hash), as in the gABI. */
export function elfHash(name: string): number {
  let h = 0;
  for (const c of Buffer.from(name, 'utf8')) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
    h >>>= 0;
  }
  return h;
}

/** A string table that hands out offsets (with offset 0 the empty string, as every ELF strtab). */
class StringTableBuilder {
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private size = 1;
  readonly offsets = new Map<string, number>();

  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const at = this.size;
    const b = Buffer.from(s + '\0', 'utf8');
    this.parts.push(b);
    this.size += b.length;
    this.offsets.set(s, at);
    return at;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export function craftElf(spec: CraftSpec): CraftedElf {
  const cls = spec.elfClass;
  const big = spec.byteOrder === 'big';
  const w = cls === 64 ? 8 : 4;
  const type = spec.type ?? 3;
  const machine = spec.machine ?? (big ? (cls === 64 ? 21 : 20) : cls === 64 ? 62 : 3);
  const needed = spec.needed ?? [];
  const verneed = spec.verneed ?? [];
  const verdef = spec.verdef ?? [];

  // .dynstr
  const strtab = new StringTableBuilder();
  const neededIdx = needed.map((s) => strtab.add(s));
  const sonameIdx = spec.soname !== undefined ? strtab.add(spec.soname) : undefined;
  const rpathIdx = spec.rpath !== undefined ? strtab.add(spec.rpath) : undefined;
  const runpathIdx = spec.runpath !== undefined ? strtab.add(spec.runpath) : undefined;
  const auxIdx = (spec.auxiliary ?? []).map((s) => strtab.add(s));
  const filterIdx = (spec.filter ?? []).map((s) => strtab.add(s));
  for (const n of verneed) {
    strtab.add(n.file);
    for (const v of n.versions) strtab.add(v.name);
  }
  for (const d of verdef) {
    strtab.add(d.name);
    for (const p of d.parents ?? []) strtab.add(p);
  }
  const dynstr = strtab.bytes();

  // Program headers: LOAD (headers … version tables), LOAD (dynamic), INTERP?, DYNAMIC, PT_NULL × extra.
  const phTypes: number[] = [PT.LOAD, PT.LOAD];
  if (spec.interp !== undefined) phTypes.push(PT.INTERP);
  phTypes.push(PT.DYNAMIC);
  for (let i = 0; i < (spec.extraPhdrs ?? 0); i++) phTypes.push(PT.NULL);
  const phnum = phTypes.length;

  const ehsize = EHDR[cls];
  const phentsize = PHDR[cls];
  const phoff = ehsize;
  let at = phoff + phnum * phentsize;
  const interpBytes = spec.interp !== undefined ? Buffer.from(spec.interp + '\0', 'utf8') : undefined;
  const interpOff = at;
  if (interpBytes) at += interpBytes.length;
  const dynstrOff = at;
  at += dynstr.length;
  at = alignUp(at, 4);
  const verneedOff = at;
  const verneedSize = verneed.reduce((s, n) => s + 16 + 16 * n.versions.length, 0);
  at += verneedSize;
  const verdefOff = at;
  const verdefSize = verdef.reduce((s, d) => s + 20 + 8 * (1 + (d.parents?.length ?? 0)), 0);
  at += verdefSize;
  const load1End = at;
  // The second segment starts on a fresh page of the file, mapped one page further on (like RW data).
  const dynOff = alignUp(at, 16);

  const bias = type === 2 ? 0x400000 : 0x10000;
  const bias2 = bias + 0x200000;
  const vaddr1 = (off: number): number => off + bias;

  const dynEntries: [number, number | bigint][] = [];
  for (const i of neededIdx) dynEntries.push([DT.NEEDED, i]);
  if (sonameIdx !== undefined) dynEntries.push([DT.SONAME, sonameIdx]);
  if (rpathIdx !== undefined) dynEntries.push([DT.RPATH, rpathIdx]);
  if (runpathIdx !== undefined) dynEntries.push([DT.RUNPATH, runpathIdx]);
  for (const i of auxIdx) dynEntries.push([DT.AUXILIARY, i]);
  for (const i of filterIdx) dynEntries.push([DT.FILTER, i]);
  dynEntries.push([DT.STRTAB, spec.strtabOutsideLoad ? UNMAPPED_ADDRESS : vaddr1(dynstrOff)], [DT.STRSZ, dynstr.length]);
  if (spec.flags !== undefined) dynEntries.push([DT.FLAGS, spec.flags]);
  if (spec.flags1 !== undefined) dynEntries.push([DT.FLAGS_1, spec.flags1]);
  if (verneed.length > 0) dynEntries.push([DT.VERNEED, vaddr1(verneedOff)], [DT.VERNEEDNUM, verneed.length]);
  if (verdef.length > 0) dynEntries.push([DT.VERDEF, vaddr1(verdefOff)], [DT.VERDEFNUM, verdef.length]);
  dynEntries.push([DT.NULL, 0]);
  const dynSize = dynEntries.length * 2 * w;
  at = dynOff + dynSize;
  const load2End = at;

  // Section names and the section header table.
  const shstr = new StringTableBuilder();
  interface Sec {
    name: string;
    type: number;
    flags: number;
    offset: number;
    size: number;
    addr: number;
    link: number;
    info: number;
    align: number;
    entsize: number;
  }
  const sections: Sec[] = [];
  const sec = (s: Omit<Sec, 'name'> & { name: string }): number => {
    sections.push(s);
    shstr.add(s.name);
    return sections.length; // index, counting the null section 0
  };
  if (interpBytes) sec({ name: '.interp', type: SHT.PROGBITS, flags: SHF_ALLOC, offset: interpOff, size: interpBytes.length, addr: vaddr1(interpOff), link: 0, info: 0, align: 1, entsize: 0 });
  const dynstrIndex = sec({
    name: '.dynstr',
    type: SHT.STRTAB,
    flags: SHF_ALLOC,
    offset: dynstrOff,
    size: dynstr.length,
    addr: spec.strtabOutsideLoad ? UNMAPPED_ADDRESS : vaddr1(dynstrOff),
    link: 0,
    info: 0,
    align: 1,
    entsize: 0,
  });
  if (verneed.length > 0) sec({ name: '.gnu.version_r', type: SHT.GNU_VERNEED, flags: SHF_ALLOC, offset: verneedOff, size: verneedSize, addr: vaddr1(verneedOff), link: dynstrIndex, info: verneed.length, align: 4, entsize: 0 });
  if (verdef.length > 0) sec({ name: '.gnu.version_d', type: SHT.GNU_VERDEF, flags: SHF_ALLOC, offset: verdefOff, size: verdefSize, addr: vaddr1(verdefOff), link: dynstrIndex, info: verdef.length, align: 4, entsize: 0 });
  sec({ name: '.dynamic', type: SHT.DYNAMIC, flags: SHF_ALLOC | SHF_WRITE, offset: dynOff, size: dynSize, addr: dynOff + bias2, link: dynstrIndex, info: 0, align: w, entsize: 2 * w });
  shstr.add('.shstrtab');
  const shstrOff = at;
  const shstrtabIndex = sections.length + 1;
  // Names must exist before the table's bytes are taken.
  const shstrBytes = shstr.bytes();
  sections.push({ name: '.shstrtab', type: SHT.STRTAB, flags: 0, offset: shstrOff, size: shstrBytes.length, addr: 0, link: 0, info: 0, align: 1, entsize: 0 });
  at += shstrBytes.length;
  const shentsize = SHDR[cls];
  const shoff = spec.noSections ? 0 : alignUp(at, w);
  const shnum = spec.noSections ? 0 : sections.length + 1;
  const total = spec.noSections ? at : shoff + shnum * shentsize;

  const b = Buffer.alloc(total);
  const f = new FieldWriter(b, cls, spec.byteOrder);
  const eh = ehdrFields(cls);
  b.set([0x7f, 0x45, 0x4c, 0x46, cls === 64 ? 2 : 1, big ? 2 : 1, 1, 0], 0);
  f.u16(16, type);
  f.u16(18, machine);
  f.u32(20, 1);
  f.addr(24, type === 2 ? bias + 0x1000 : 0);
  f.addr(eh.phoff, phoff);
  f.addr(eh.shoff, shoff);
  f.u32(24 + 3 * w, 0);
  f.u16(28 + 3 * w, ehsize);
  f.u16(eh.phentsize, phentsize);
  f.u16(eh.phnum, spec.phnumXnum ? 0xffff : phnum);
  f.u16(eh.shentsize, spec.noSections ? 0 : shentsize);
  f.u16(eh.shnum, shnum);
  f.u16(eh.shstrndx, spec.noSections ? 0 : shstrtabIndex);

  const pf = phdrFields(cls);
  const phIndex: CraftedLayout['phIndex'] = { load: 0, load2: 1, dynamic: -1 };
  phTypes.forEach((t, i) => {
    const base = phoff + i * phentsize;
    const seg = (offset: number, vaddr: number, filesz: number, flags: number, align: number): void => {
      f.u32(base + pf.type, t);
      f.u32(base + pf.flags, flags);
      f.addr(base + pf.offset, offset);
      f.addr(base + pf.vaddr, vaddr);
      f.addr(base + pf.vaddr + w, vaddr); // p_paddr follows p_vaddr in both classes
      f.addr(base + pf.filesz, filesz);
      f.addr(base + pf.memsz, filesz);
      f.addr(base + pf.align, align);
    };
    if (t === PT.LOAD && i === 0) seg(0, bias, load1End, 4, 0x1000);
    else if (t === PT.LOAD) seg(dynOff, dynOff + bias2, load2End - dynOff, 6, 0x1000);
    else if (t === PT.INTERP && interpBytes) {
      phIndex.interp = i;
      seg(interpOff, vaddr1(interpOff), interpBytes.length, 4, 1);
    } else if (t === PT.DYNAMIC) {
      phIndex.dynamic = i;
      seg(dynOff, dynOff + bias2, dynSize, 6, w);
    }
  });

  if (interpBytes) interpBytes.copy(b, interpOff);
  dynstr.copy(b, dynstrOff);

  // Elf_Verdef (20 bytes) and Elf_Verdaux (8 bytes); versions needed are numbered after those defined.
  let vdAt = verdefOff;
  verdef.forEach((d, i) => {
    const names = [d.name, ...(d.parents ?? [])];
    const size = 20 + 8 * names.length;
    f.u16(vdAt, 1);
    f.u16(vdAt + 2, d.base ? 1 : 0);
    f.u16(vdAt + 4, i + 1);
    f.u16(vdAt + 6, names.length);
    f.u32(vdAt + 8, elfHash(d.name));
    f.u32(vdAt + 12, 20);
    f.u32(vdAt + 16, i === verdef.length - 1 ? 0 : size);
    names.forEach((n, j) => {
      const aux = vdAt + 20 + 8 * j;
      f.u32(aux, strtab.offsets.get(n) ?? 0);
      f.u32(aux + 4, j === names.length - 1 ? 0 : 8);
    });
    vdAt += size;
  });
  let vnAt = verneedOff;
  let versionIndex = Math.max(verdef.length, 1) + 1;
  verneed.forEach((n, i) => {
    const size = 16 + 16 * n.versions.length;
    f.u16(vnAt, 1);
    f.u16(vnAt + 2, n.versions.length);
    f.u32(vnAt + 4, strtab.offsets.get(n.file) ?? 0);
    f.u32(vnAt + 8, 16);
    f.u32(vnAt + 12, i === verneed.length - 1 ? 0 : size);
    n.versions.forEach((v, j) => {
      const aux = vnAt + 16 + 16 * j;
      f.u32(aux, elfHash(v.name));
      f.u16(aux + 4, v.weak ? 2 : 0);
      f.u16(aux + 6, versionIndex++);
      f.u32(aux + 8, strtab.offsets.get(v.name) ?? 0);
      f.u32(aux + 12, j === n.versions.length - 1 ? 0 : 16);
    });
    vnAt += size;
  });

  dynEntries.forEach(([tag, val], i) => {
    f.addr(dynOff + i * 2 * w, tag);
    f.addr(dynOff + i * 2 * w + w, val);
  });

  shstrBytes.copy(b, shstrOff);
  if (!spec.noSections) {
    const sf =
      cls === 64
        ? { name: 0, type: 4, flags: 8, addr: 16, offset: 24, size: 32, link: 40, info: 44, align: 48, entsize: 56 }
        : { name: 0, type: 4, flags: 8, addr: 12, offset: 16, size: 20, link: 24, info: 28, align: 32, entsize: 36 };
    // Section header 0 is all zero, except sh_info holding the real e_phnum under PN_XNUM.
    if (spec.phnumXnum) f.u32(shoff + sf.info, phnum);
    sections.forEach((s, i) => {
      const base = shoff + (i + 1) * shentsize;
      f.u32(base + sf.name, shstr.offsets.get(s.name) ?? 0);
      f.u32(base + sf.type, s.type);
      f.addr(base + sf.flags, s.flags);
      f.addr(base + sf.addr, s.addr);
      f.addr(base + sf.offset, s.offset);
      f.addr(base + sf.size, s.size);
      f.u32(base + sf.link, s.link);
      f.u32(base + sf.info, s.info);
      f.addr(base + sf.align, s.align);
      f.addr(base + sf.entsize, s.entsize);
    });
  }

  const layout: CraftedLayout = {
    ehsize,
    phoff,
    phentsize,
    phnum,
    ePhnumAt: eh.phnum,
    phIndex,
    dynstr: { offset: dynstrOff, size: dynstr.length },
    strings: strtab.offsets,
    dynamic: { offset: dynOff, size: dynSize, entries: dynEntries },
    shoff,
    shentsize,
    shnum,
    bias,
    bias2,
  };
  if (interpBytes) layout.interp = { offset: interpOff, size: interpBytes.length };
  if (verneed.length > 0) layout.verneed = { offset: verneedOff, size: verneedSize };
  if (verdef.length > 0) layout.verdef = { offset: verdefOff, size: verdefSize };
  return { bytes: b, layout };
}

/** File offset of the program header at `index`. */
export function phdrOffset(layout: CraftedLayout, index: number): number {
  return layout.phoff + index * layout.phentsize;
}

/** File offset of the d_val of the first dynamic entry with `tag`. */
export function dynValueOffset(layout: CraftedLayout, elfClass: CraftClass, tag: number): number {
  const i = layout.dynamic.entries.findIndex(([t]) => t === tag);
  if (i < 0) throw new Error(`crafted file has no dynamic entry with tag 0x${tag.toString(16)}`);
  const w = elfClass === 64 ? 8 : 4;
  return layout.dynamic.offset + i * 2 * w + w;
}
