/**
 * @elfcopy/jail-copy: mirror an ELF closure, its loader, its NSS modules and its runtime files into a
 * jail, and the tools that check, run and ship one. This is the public surface, documented in the
 * package's README; what the elfcopy CLI needs beyond it is behind '@elfcopy/jail-copy/internal'.
 */

// The copy path: one call (copyIntoJail), or its parts — a plan (data), its application, a prune.
export { copyIntoJail, type CopyIntoJailOptions, type CopyIntoJailEvents, type CopyIntoJailResult, type CopyPlanReport } from './run/copy-into-jail.js';
export { planCopy, type CopyPlan, type PlanStep, type PlanOptions, type NssReport } from './copy/plan.js';
export { applyPlan, type ApplyOptions, type ApplyResult } from './copy/apply.js';
export { planPrune, type PruneStep, type PrunePlan } from './copy/prune.js';
export { MANIFEST_PATH, INIT_OWNER, copyOwner, parseManifest, type Installer, type Manifest, type ManifestEntry } from './copy/manifest.js';
export { parseNsswitch, type NssEntry } from './copy/nss.js';
export { DEFAULTS } from './defaults.js';

// Profiles: the runtime files a program needs beyond its closure (locales, zoneinfo, python, …).
export { planCopyWithProfiles, type ProfilePlanOptions, type ProfilePlan } from './profiles/plan-profiles.js';
export { parseProfileSpec, ProfileSpecError, type ProfileRequest } from './profiles/profile-spec.js';
export { loadProfiles, profilesDir, ProfileError, type Profile } from './profiles/profiles.js';

// The jail tools.
export { planInit, parseWritable, InitError, type InitOptions, type InitPlan, type Account, type WritableDir } from './tools/init.js';
export { initJail, type InitJailOptions, type InitJailEvents, type InitJailResult } from './run/init-jail.js';
export { traceIntoJail, type TraceIntoJailOptions, type TraceIntoJailEvents, type TraceIntoJailResult } from './run/trace-into-jail.js';
export { verifyJail, type VerifyOptions, type VerifyReport } from './tools/verify.js';
export { auditJail, type AuditOptions, type AuditReport } from './tools/audit.js';
export { atOrAbove, SEVERITY_RANK, type Finding, type Severity } from './findings.js';
export { renderSystemdUnit, renderSysvScript, checkUnitProgram, UnitError, type UnitOptions } from './tools/unit.js';
export { traceCommand, TraceError, type TraceOptions, type TraceResult, type TraceMethod } from './tools/trace.js';

// Errors.
export { JailCopyError, JailEscapeError, JailConflictError, BadJailError, JailBusyError, JailIoError } from './errors.js';
export { OutputIoError } from './output/io-error.js';

// Artifacts: OCI images, SBOMs, and the dpkg database they read.
export { buildImage, DEFAULT_SOURCE_DATE_EPOCH, ImageError, type ImageErrorKind, type ImageOptions, type ImageResult, type LayerCompression } from './image/index.js';
export { writeSbom, describeJail, type SbomOptions, type SbomResult, type SbomFormat, type JailInventory, type InventoryFile, type InventoryPackage, type InventoryOptions } from './sbom/index.js';
export { readDpkgDatabase, DpkgDatabase, DpkgDatabaseError, type DpkgDatabaseOptions, type DpkgDiversion, type DpkgFileRecord, type DpkgPackage } from './dpkg/index.js';
