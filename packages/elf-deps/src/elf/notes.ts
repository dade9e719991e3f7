/**
 * ELF notes in PT_NOTE segments, read for one purpose: the `.note.dlopen` metadata (owner "FDO", type
 * 0x407c0c0a, a JSON array) in which a library declares the sonames it dlopen()s at run time, with a
 * priority (required, recommended, suggested). https://systemd.io/ELF_DLOPEN_METADATA/
 */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import { PT_NOTE } from './constants.js';
import type { FieldReader } from './fields.js';
import type { ProgramHeader } from './program-headers.js';

export const NT_FDO_DLOPEN_METADATA = 0x407c0c0a;
export type DlopenPriority = 'required' | 'recommended' | 'suggested';

export interface DlopenNote {
  feature?: string;
  description?: string;
  priority: DlopenPriority;
  sonames: string[];
}

/** Notes larger than this are not dlopen metadata; a hostile size is refused, not read. */
const MAX_NOTE_SEGMENT = 1 << 20;

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function readDlopenNotes(src: ByteSource, fields: FieldReader, phdrs: readonly ProgramHeader[]): DlopenNote[] {
  const out: DlopenNote[] = [];
  for (const ph of phdrs) {
    if (ph.type !== PT_NOTE || ph.filesz === 0) continue;
    if (ph.filesz > MAX_NOTE_SEGMENT) continue;
    const buf = src.read(ph.offset, ph.filesz, 'PT_NOTE');
    const a = ph.align === 8 ? 8 : 4;
    let at = 0;
    while (at + 12 <= buf.length) {
      const namesz = fields.u32(buf, at);
      const descsz = fields.u32(buf, at + 4);
      const type = fields.u32(buf, at + 8);
      const nameAt = at + 12;
      const descAt = nameAt + align(namesz, 4);
      const next = align(descAt + descsz, a);
      if (descAt + descsz > buf.length || namesz > buf.length) {
        throw new ElfFormatError(src.path, 'PT_NOTE', ph.offset + at, 'note extends past its segment');
      }
      const name = buf.subarray(nameAt, nameAt + Math.max(0, namesz - 1)).toString('latin1');
      if (name === 'FDO' && type === NT_FDO_DLOPEN_METADATA) {
        out.push(...parseDlopenJson(buf.subarray(descAt, descAt + descsz)));
      }
      if (next <= at) break;
      at = next;
    }
  }
  return out;
}

/** The payload is a NUL-padded JSON array; entries without sonames, or not JSON, are ignored (as the spec says tools should). */
export function parseDlopenJson(bytes: Buffer): DlopenNote[] {
  const nul = bytes.indexOf(0);
  const text = bytes.subarray(0, nul >= 0 ? nul : bytes.length).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: DlopenNote[] = [];
  for (const e of parsed as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const rec = e as Record<string, unknown>;
    const sonames = Array.isArray(rec.soname) ? rec.soname.filter((s): s is string => typeof s === 'string' && s.length > 0) : [];
    if (sonames.length === 0) continue;
    const pr = rec.priority;
    const priority: DlopenPriority = pr === 'required' || pr === 'suggested' ? pr : 'recommended';
    const note: DlopenNote = { priority, sonames };
    if (typeof rec.feature === 'string') note.feature = rec.feature;
    if (typeof rec.description === 'string') note.description = rec.description;
    out.push(note);
  }
  return out;
}
