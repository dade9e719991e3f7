export { planCopy, mirrorSteps, type CopyPlan, type PlanStep, type PlanOptions, type NssReport } from './plan.js';
export { parseNsswitch, nssModulesNeeded, BUILTIN_SINCE_2_34, type NssEntry, type NssModuleNeed } from './nss.js';
