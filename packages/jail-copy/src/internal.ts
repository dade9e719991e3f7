/**
 * '@elfcopy/jail-copy/internal': the pieces the elfcopy CLI and this package's tests reach below the
 * public surface. No stability promise: these change with the code they expose.
 */
export { StepSet, resolverFor, mirrorSteps } from './copy/plan.js';
export { removeStaging, ensureDir, writeFileAtomic, symlinkAtomic, removeEntry, isUpToDate, cleanupTemps } from './copy/fileops.js';
export { reusablePlan, savePlanCache, hostSignatures, planCacheKey, signatureOf, PLAN_CACHE_PATH, type CachedPlan, type PathSignature } from './copy/plan-cache.js';
export { buildJailLdCache, type JailLdCacheResult } from './copy/jail-ldcache.js';
export { ownersOf, serializeManifest, LEGACY_COPY } from './copy/manifest.js';
export { nssModulesNeeded, BUILTIN_SINCE_2_34, type NssModuleNeed } from './copy/nss.js';
export { Jail, leavesJail, climbsAboveRoot, type TrustLink } from './confine/inroot.js';
export { walkJail, type JailEntry } from './confine/walk.js';
export { asJailIoError, JAIL_IO_ERRNOS } from './errors.js';
export { selectProfiles, expandProfiles, nginxModules, opensslModules, gconvAllowList, type ProfileContext, type ProfileSelection } from './profiles/profiles.js';
export { writableCodeWarnings, ALLOWED_DEVICES } from './tools/audit.js';
export { ESSENTIAL_ETC, MINIMAL_NSSWITCH } from './tools/init.js';
export * from './image/index.js';
export * from './sbom/index.js';
export * from './dpkg/index.js';
