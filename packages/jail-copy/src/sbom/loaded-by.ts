/**
 * "Loaded by": objects a program or library dlopens, which no DT_NEEDED names. Two sources of that
 * knowledge, each kept where it already lives: glibc's own run-time loads (one table below, each row
 * citing the glibc source), and the copy profiles (packages/jail-copy/profiles), whose `elf` globs name
 * the modules and whose `auto` triggers name who loads them (php's extensions by php and php-fpm,
 * ImageMagick's coders by libMagickCore, Python's lib-dynload by python3.N).
 */
import * as path from 'node:path';
import type { Profile } from '../profiles/profiles.js';

/** What glibc's libc.so.6 dlopens itself. */
const LOADED_BY_LIBC: readonly { file: RegExp; why: string }[] = [
  { file: /\/libnss_[^/]+\.so(\.\d+)*$/, why: 'nss/nss_module.c: module_load dlopens the services nsswitch.conf names' },
  { file: /\/gconv\/[^/]+\.so$/, why: 'iconv/gconv_dl.c: __gconv_find_shlib dlopens iconv converters' },
  { file: /\/libgcc_s\.so\.1$/, why: 'misc/unwind-link.c: __libc_unwind_link_get dlopens libgcc_s for unwinding and pthread_cancel' },
];

export interface LoadableObject {
  /** In-jail path (real). */
  path: string;
  soname?: string;
  /** PT_INTERP: set for programs. */
  interpreter?: string;
}

/** [loader, loaded] pairs among `objects`. */
export function loadedByEdges(objects: readonly LoadableObject[], profiles: ReadonlyMap<string, Profile>): [string, string][] {
  const out: [string, string][] = [];
  const libcs = objects.filter((o) => /\/libc\.so\.6$/.test(o.path)).map((o) => o.path);
  for (const o of objects) {
    if (!LOADED_BY_LIBC.some((r) => r.file.test(o.path))) continue;
    const libc = libcs.find((l) => path.posix.dirname(l) === path.posix.dirname(o.path)) ?? libcs[0];
    if (libc !== undefined) out.push([libc, o.path]);
  }
  for (const p of profiles.values()) {
    if (!p.elf || p.elf.length === 0) continue;
    const modules = p.elf.map(globRegExp);
    const inputs = (p.auto?.inputs ?? []).map((r) => new RegExp(r));
    const sonames = new Set(p.auto?.sonames ?? []);
    const loaders = objects.filter((o) => (o.interpreter !== undefined && inputs.some((r) => r.test(o.path))) || (o.soname !== undefined && sonames.has(o.soname)));
    // Only shared objects are dlopened; programs a profile brings (git's helpers, a shell's commands)
    // are executed, which is not loading.
    for (const m of objects.filter((o) => o.interpreter === undefined && modules.some((r) => r.test(o.path)))) {
      for (const l of loaders) if (l.path !== m.path) out.push([l.path, m.path]);
    }
  }
  return out;
}

/** A profile's glob as a regular expression: `${VAR}` and `*` one component's worth, `**` any depth. */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (glob.startsWith('**', i)) {
      re += '.*';
      i++;
    } else if (glob.startsWith('${', i)) {
      const end = glob.indexOf('}', i);
      re += '[^/]*';
      i = end < 0 ? glob.length : end;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^$(){}|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
