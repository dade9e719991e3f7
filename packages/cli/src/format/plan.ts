/** A plan as `--dry-run` prints it: one step a line, its first reason after `#`. */
import type { PlanStep, PruneStep } from '@elfcopy/jail-copy';
import { escapeName } from './escape.js';

function describeStep(s: PlanStep | PruneStep): string {
  switch (s.op) {
    case 'mkdir':
      return `mkdir   ${s.path} (${s.mode.toString(8)} ${s.uid}:${s.gid})`;
    case 'copy':
      return `copy    ${s.path}${s.strippedBits ? ` (setuid/setgid stripped)` : ''}`;
    case 'symlink':
      return `symlink ${s.path} -> ${s.target}`;
    case 'write':
      return `write   ${s.path}`;
    case 'mknod':
      return `mknod   ${s.path} c ${s.major} ${s.minor}`;
    case 'ldcache':
      return `ldcache ${s.path} (${s.libraries.length} libraries)`;
    case 'remove':
      return `remove  ${s.path}${s.kind === 'dir' ? '/' : ''}`;
  }
}

export function formatPlan(steps: readonly (PlanStep | PruneStep)[]): string {
  return steps.map((s) => `${escapeName(describeStep(s)).padEnd(72)}  # ${escapeName(s.reasons[0] ?? '')}`).join('\n') + (steps.length ? '\n' : '');
}
