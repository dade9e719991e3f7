/**
 * SBOMs of a jail: `writeSbom(jail, { format, root, output })` — CycloneDX 1.6 JSON;
 * `describeJail` for the format-neutral inventory (files, owners, packages, dependencies).
 */
export { writeSbom, type SbomOptions, type SbomResult, type SbomFormat } from './write.js';
export { describeJail, debPurl, type JailInventory, type InventoryFile, type InventoryPackage, type InventoryOptions } from './inventory.js';
export { toCycloneDx, type CycloneDxOptions } from './cyclonedx.js';
export { readOsRelease, distroQualifier, type OsRelease } from './os-release.js';
export { readDep5Licenses, spdxIdOf } from './dep5.js';
