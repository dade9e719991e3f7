/** The error of the dpkg-database reader: names the database file and what is wrong with it. */
import { JailCopyError } from '../errors.js';

/**
 * A file of dpkg's database that cannot be used: larger than any real database holds, not a regular file,
 * unreadable. `path` is the file's path inside the root (`/var/lib/dpkg/info/libc6:amd64.list`).
 */
export class DpkgDatabaseError extends JailCopyError {
  override name = 'DpkgDatabaseError';
}
