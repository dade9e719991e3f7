/** `elfcopy verify` and `elfcopy audit`: call the library check, print findings, exit by severity. */
import * as fs from 'node:fs';
import { DEFAULTS, atOrAbove, auditJail, parseWritable, verifyJail, type Finding, type Severity } from '@elfcopy/jail-copy';
import { EXIT_INCOMPLETE, EXIT_OK } from './exit-codes.js';
import { escapeName } from './format/escape.js';
import { paint, useColor, type Reporter } from './report.js';
import { resolveOptionsFrom, type ResolverCliOptions } from './resolver-options.js';
import { UsageError } from './usage-error.js';

export function checkJailDir(jail: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(jail);
  } catch {
    throw new UsageError(`${jail}: no such jail directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`${jail}: not a directory`);
}

function printFindings(findings: Finding[], json: boolean, header: Record<string, unknown>, stdout: NodeJS.WritableStream & { isTTY?: boolean }): void {
  if (json) {
    stdout.write(JSON.stringify({ ...header, findings }, null, 2) + '\n');
    return;
  }
  const p = paint(useColor(stdout));
  for (const f of findings) {
    const sev = f.severity === 'high' ? p.red(f.severity) : f.severity === 'medium' ? p.yellow(f.severity) : p.dim(f.severity);
    stdout.write(`${sev.padEnd(6)} ${f.rule}: ${escapeName(f.path)}: ${escapeName(f.message)}\n`);
  }
}

export interface VerifyCliOptions extends Omit<ResolverCliOptions, 'root' | 'ldLibraryPath' | 'ldSoConf'> {
  json?: boolean;
  againstHost?: boolean;
  symbols?: boolean;
}

export function runVerify(jail: string, opts: VerifyCliOptions, report: Reporter, stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): number {
  checkJailDir(jail);
  // The machine options as deps and copy parse them: the jail's loader, on the machine it is for.
  const { target, machine } = resolveOptionsFrom(opts);
  const r = verifyJail(jail, { againstHost: Boolean(opts.againstHost), symbols: Boolean(opts.symbols), ...(target ? { target } : {}), ...(machine ? { machine } : {}) });
  printFindings(r.findings, Boolean(opts.json), { schema: 'elfcopy.verify/1', jail: r.jail, checked: r.checked }, stdout);
  const failing = atOrAbove(r.findings, DEFAULTS.failOn);
  report.info(`verify: ${r.checked} ELF files checked, ${r.findings.length} findings${failing.length ? '' : ' — the jail is complete'}`);
  return failing.length > 0 ? EXIT_INCOMPLETE : EXIT_OK;
}

const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high'];

export function runAudit(jail: string, opts: { json?: boolean; failOn?: string; writable?: string[] }, report: Reporter, stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): number {
  checkJailDir(jail);
  const failOn = (opts.failOn ?? DEFAULTS.failOn) as Severity;
  if (!SEVERITIES.includes(failOn)) throw new UsageError(`--fail-on must be one of ${SEVERITIES.join(', ')}`);
  const writable = parseWritable(opts.writable ?? []).map((w) => w.dir);
  const r = auditJail(jail, { writable });
  printFindings(r.findings, Boolean(opts.json), { schema: 'elfcopy.audit/1', jail: r.jail, entries: r.entries }, stdout);
  const failing = atOrAbove(r.findings, failOn);
  report.info(`audit: ${r.entries} entries, ${r.findings.length} findings, ${failing.length} at or above ${failOn}`);
  return failing.length > 0 ? EXIT_INCOMPLETE : EXIT_OK;
}

