/**
 * Helpers for the jail tools tests (init, verify, audit, --ldcache, unit), on top of the shared jail
 * helpers: the built CLI with its findings parsed, breakable copies of a jail, and gcc fixtures.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { elfcopy, gcc } from './jail.js';

export interface CliResult {
  status: number | undefined;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[]): Promise<CliResult> {
  const r = await elfcopy(args);
  return { status: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export interface Finding {
  rule: string;
  severity: 'low' | 'medium' | 'high';
  path: string;
  message: string;
}

export interface Checked {
  status: number | undefined;
  schema: string;
  findings: Finding[];
  /** The same check's plain-text output (one `SEVERITY RULE: PATH: message` line per finding). */
  text: string;
}

/** `elfcopy verify|audit JAIL ARGS --json`, parsed, plus the plain-text run of the same check. */
export async function check(command: 'verify' | 'audit', jail: string, args: string[] = []): Promise<Checked> {
  const [json, plain] = await Promise.all([cli([command, jail, ...args, '--json']), cli([command, jail, ...args])]);
  const parsed = JSON.parse(json.stdout) as { schema: string; findings: Finding[] };
  if (plain.status !== json.status) throw new Error(`${command} exits ${String(json.status)} with --json but ${String(plain.status)} without`);
  return { status: json.status, schema: parsed.schema, findings: parsed.findings, text: plain.stdout };
}

export const atLeastMedium = (findings: readonly Finding[]): Finding[] => findings.filter((f) => f.severity !== 'low');

/** A copy of a jail to break (cp -a keeps owners, device nodes and hard links). */
export function cloneJail(jail: string, to: string): string {
  execFileSync('cp', ['-a', jail, to]);
  return to;
}

export interface VersionFixture {
  /** libfix.so.1 whose version script defines only FIX_1.0. */
  oldLib: string;
  /** libfix.so.1 defining FIX_1.0 and FIX_2.0. */
  newLib: string;
  /** Linked against newLib; calls f2@FIX_2.0. */
  program: string;
}

/** The "version `GLIBC_2.xx' not found" situation in miniature: a program built against a newer library. */
export function buildVersionFixture(dir: string): VersionFixture {
  const at = (...p: string[]): string => path.join(dir, ...p);
  fs.mkdirSync(at('old'), { recursive: true });
  fs.mkdirSync(at('new'), { recursive: true });
  fs.writeFileSync(at('v1.map'), 'FIX_1.0 { global: f1; local: *; };\n');
  fs.writeFileSync(at('v2.map'), 'FIX_1.0 { global: f1; local: *; };\nFIX_2.0 { global: f2; } FIX_1.0;\n');
  const lib = (out: string, source: string, map: string): string =>
    gcc(out, source, ['-shared', '-fPIC', '-Wl,-soname,libfix.so.1', `-Wl,--version-script=${at(map)}`]);
  const oldLib = lib(at('old', 'libfix.so.1'), 'int f1(void) { return 1; }\n', 'v1.map');
  const newLib = lib(at('new', 'libfix.so.1'), 'int f1(void) { return 1; }\nint f2(void) { return 2; }\n', 'v2.map');
  const program = gcc(at('fixprog'), 'int f2(void);\nint main(void) { return f2() - 2; }\n', [newLib]);
  return { oldLib, newLib, program };
}

/**
 * A daemon that, like nginx, removes its pid file before it has exited: on SIGTERM it unlinks the file
 * and lingers a second. With the argument `fail` it fails to start (exit 3). The parent writes the
 * child's pid before returning, so the file exists when `start` returns.
 */
export function buildSlowDaemon(out: string, pidFile: string): string {
  return gcc(
    out,
    `#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t term;
static void on_term(int s) { (void)s; term = 1; }
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fail") == 0) return 3;
  sigset_t term_only, others;
  sigemptyset(&term_only);
  sigaddset(&term_only, SIGTERM);
  sigprocmask(SIG_BLOCK, &term_only, &others);
  signal(SIGTERM, on_term);
  pid_t child = fork();
  if (child < 0) return 1;
  if (child > 0) {
    FILE *f = fopen("${pidFile}", "w");
    if (!f) return 1;
    fprintf(f, "%d\\n", (int)child);
    return fclose(f) == 0 ? 0 : 1;
  }
  setsid();
  close(0); close(1); close(2);
  while (!term) sigsuspend(&others);
  unlink("${pidFile}");
  sleep(1);
  return 0;
}
`,
  );
}
