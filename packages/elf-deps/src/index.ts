export * from './errors.js';
export { ByteSource } from './bytes.js';
export * from './elf/constants.js';
export type { ElfClass, ByteOrder } from './elf/fields.js';
export { FieldReader } from './elf/fields.js';
export { readHeader, readIdent, type ElfHeader, type ElfIdent } from './elf/header.js';
export { readProgramHeaders, vaddrToOffset, type ProgramHeader } from './elf/program-headers.js';
export type { VersionNeed, VersionDefinition } from './elf/versions.js';
export { readElf, readElfFrom, type ElfInfo, type DynamicInfo, type ElfKind, type ReadElfOptions, type ElfRaw } from './elf/file.js';
