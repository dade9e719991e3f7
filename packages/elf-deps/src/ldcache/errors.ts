/** The two ways an ld.so.cache goes wrong: a file ld.so would refuse, and an entry the writer cannot store. */
import { ElfDepsError, ElfFormatError } from '../errors.js';

/**
 * A cache file ld.so would refuse or misread: bad magic, a count or offset pointing outside the file, …
 * An ElfFormatError (field and offset) so callers report it like any malformed input, yet its own type.
 */
export class LdCacheFormatError extends ElfFormatError {
  override name = 'LdCacheFormatError';
}

/** An entry handed to the writer cannot be stored (a NUL in a name, an ISA level above 1023, …). */
export class LdCacheWriteError extends ElfDepsError {
  override name = 'LdCacheWriteError';
}

