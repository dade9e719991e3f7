/** What the jail checks report: each finding names the file and the rule it breaks. */
export type Severity = 'low' | 'medium' | 'high';

export const SEVERITY_RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3 };

export interface Finding {
  /** The rule broken, a stable identifier (e.g. 'missing-library', 'setuid'). */
  rule: string;
  severity: Severity;
  /** The in-jail path the finding is about. */
  path: string;
  message: string;
}

export function atOrAbove(findings: readonly Finding[], threshold: Severity): Finding[] {
  return findings.filter((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[threshold]);
}
