/**
 * dpkg's database, read natively: which Debian package installed which file of a root, with its version,
 * architecture, relationships and recorded md5 — merged-/usr aliases and diversions resolved.
 *
 *   const db = readDpkgDatabase('/');            // undefined: no dpkg database in that root
 *   db.ownersOf('/usr/lib/x86_64-linux-gnu/libc.so.6')[0].package.name   // 'libc6'
 *   db.listedBy(p)                               // what `dpkg-query -S` says, aliases resolved
 *   db.installed                                 // what `dpkg-query -W` lists
 *   db.filesOf(pkg), db.md5sumsOf(pkg)           // info/NAME.list and info/NAME.md5sums
 */
export { readDpkgDatabase, DpkgDatabase, DPKG_ADMINDIR, type DpkgDatabaseOptions, type DpkgDiversion, type DpkgFileRecord } from './database.js';
export { PACKAGE_NAME, ARCH_NAME, type DpkgPackage, type DpkgConffile, type DpkgWant, type DpkgState, type DpkgMultiArch } from './package.js';
export { parseControl, parseRelations, type ControlParagraph, type DpkgRelation } from './control.js';
export { DpkgDatabaseError } from './errors.js';
