/**
 * deb822 control data, as dpkg's status file and its updates journal hold it: paragraphs of `Field: value`
 * lines, continuation lines starting with a space or tab, paragraphs separated by blank lines
 * (dpkg's lib/dpkg/parse.c: parse_stanza). Field names are case-insensitive.
 */

/** One paragraph: field names lower-cased, values with the continuation lines joined by '\n'. */
export type ControlParagraph = ReadonlyMap<string, string>;

/** Every paragraph of `text`; malformed lines (no colon, a continuation before any field) are skipped. */
export function parseControl(text: string): ControlParagraph[] {
  const out: ControlParagraph[] = [];
  let cur = new Map<string, string>();
  let last: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      if (cur.size > 0) out.push(cur);
      cur = new Map();
      last = undefined;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last !== undefined) cur.set(last, `${cur.get(last) ?? ''}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).toLowerCase();
    cur.set(last, line.slice(colon + 1).trim());
  }
  if (cur.size > 0) out.push(cur);
  return out;
}

/** One package named in a relationship field: `libc6:any (>= 2.34)`. */
export interface DpkgRelation {
  name: string;
  /** `any`, `native` or an architecture, when the field qualifies the name. */
  arch?: string;
  /** `<<`, `<=`, `=`, `>=` or `>>`. */
  op?: string;
  version?: string;
}

const RELATION = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$/;

/**
 * A relationship field (Depends, Pre-Depends, Provides, …) as a conjunction of alternatives:
 * `a, b | c` is [[a], [b, c]]. Entries that do not parse are dropped rather than guessed at.
 */
export function parseRelations(value: string | undefined): DpkgRelation[][] {
  if (value === undefined || value.trim() === '') return [];
  const out: DpkgRelation[][] = [];
  for (const group of value.split(',')) {
    const alts: DpkgRelation[] = [];
    for (const alt of group.split('|')) {
      const m = RELATION.exec(alt.trim());
      if (!m || m[1] === undefined) continue;
      const rel: DpkgRelation = { name: m[1] };
      if (m[2] !== undefined) rel.arch = m[2];
      if (m[3] !== undefined && m[4] !== undefined) {
        // '<' and '>' are dpkg's obsolete spellings of '<=' and '>=' (lib/dpkg/fields.c: f_dependency).
        rel.op = m[3] === '<' ? '<=' : m[3] === '>' ? '>=' : m[3];
        rel.version = m[4];
      }
      alts.push(rel);
    }
    if (alts.length > 0) out.push(alts);
  }
  return out;
}
