export { planCopy, mirrorSteps, type CopyPlan, type PlanStep, type PlanOptions, type NssReport } from './plan.js';
export { parseNsswitch, nssModulesNeeded, BUILTIN_SINCE_2_34, type NssEntry, type NssModuleNeed } from './nss.js';
export { verifyJail, type VerifyOptions, type VerifyReport } from './verify.js';
export { auditJail, ALLOWED_DEVICES, type AuditOptions, type AuditReport } from './audit.js';
export { atOrAbove, SEVERITY_RANK, type Finding, type Severity } from './findings.js';
export { walkJail, type JailEntry } from './walk.js';
export { loadProfiles, selectProfiles, expandProfiles, profilesDir, nginxModules, opensslModules, gconvAllowList, ProfileError, type Profile, type ProfileContext, type ProfileSelection } from './profiles.js';
export { globInRoot } from './glob.js';
export { traceCommand, TraceError, type TraceOptions, type TraceResult, type TraceMethod } from './trace.js';
