/**
 * The one syntax for choosing profiles and giving them parameters (`--with`):
 *
 *   SPEC   := ITEM[,ITEM]...
 *   ITEM   := auto | none | [+|-]NAME[:PARAM]...
 *   PARAM  := KEY=VALUE[+VALUE]...  |  VALUE[+VALUE]...   (the profile's positional key)
 *
 * `auto` is the set picked from the closure and the programs; no `--with` at all means `auto`.
 * `none` is the bare closure. `+NAME` adds a profile to `auto` and `-NAME` keeps `auto` from picking
 * it; a spec made only of `+`/`-` items (and parameters) starts from `auto`, one that names a profile
 * plainly starts from nothing. Examples: `--with +gconv:charsets=ISO-8859-1+UTF-16`,
 * `--with auto,locale:de_DE.UTF-8+fr_FR.UTF-8`, `--with +python:packages=requests+idna`,
 * `--with shell:term=xterm+tmux-256color:programs=ls+cat`. Values become path components, so they are
 * refused unless they are plain names (letters, digits, `@ . _ -`, not starting with a dot).
 */
import { ElfDepsError } from '@elfcopy/elf-deps';

export interface ProfileRequest {
  /** Profile names to apply, and `auto` for the automatic set. */
  names: string[];
  /** Profiles `auto` must not pick (`-NAME`). */
  without: string[];
  /** Parameters: profile → key → values. A positional value is stored under the key `''`. */
  params: Record<string, Record<string, string[]>>;
}

export class ProfileSpecError extends ElfDepsError {
  override name = 'ProfileSpecError';
}

const NAME = /^[a-z][a-z0-9-]*$/;
const KEY = /^[a-z][a-z0-9-]*$/;
const VALUE = /^[A-Za-z0-9@_-][A-Za-z0-9@._-]*$/;

/** Parses a `--with` spec; `undefined` (no `--with`) is `auto`. */
export function parseProfileSpec(spec: string | undefined): ProfileRequest {
  const req: ProfileRequest = { names: [], without: [], params: {} };
  if (spec === undefined) {
    req.names.push('auto');
    return req;
  }
  let plain = false;
  let relative = false;
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    if (item === 'none') {
      plain = true;
      continue;
    }
    if (item === 'auto') {
      req.names.push('auto');
      plain = true;
      continue;
    }
    const sign = item[0] === '+' || item[0] === '-' ? item[0] : '';
    const [name = '', ...params] = item.slice(sign.length).split(':');
    if (!NAME.test(name)) throw new ProfileSpecError(`--with ${spec}`, `'${item}' is not a profile name (NAME, +NAME, -NAME, NAME:KEY=VALUE+VALUE, auto or none)`);
    if (sign === '-') {
      if (params.length) throw new ProfileSpecError(`--with ${spec}`, `'${item}': a profile that is left out takes no parameters`);
      req.without.push(name);
      relative = true;
      continue;
    }
    if (sign === '+') relative = true;
    else plain = true;
    if (!req.names.includes(name)) req.names.push(name);
    for (const p of params) {
      const eq = p.indexOf('=');
      const key = eq < 0 ? '' : p.slice(0, eq);
      if (eq >= 0 && !KEY.test(key)) throw new ProfileSpecError(`--with ${spec}`, `'${p}' is not KEY=VALUE`);
      const values = (eq < 0 ? p : p.slice(eq + 1)).split('+');
      for (const v of values) {
        if (!VALUE.test(v)) throw new ProfileSpecError(`--with ${spec}`, `'${v}' is not a plain value for ${name}${key ? `:${key}` : ''} (letters, digits, @ . _ -)`);
      }
      const mine = (req.params[name] ??= {});
      mine[key] = [...(mine[key] ?? []), ...values];
    }
  }
  if (relative && !plain && !req.names.includes('auto')) req.names.unshift('auto');
  return req;
}
