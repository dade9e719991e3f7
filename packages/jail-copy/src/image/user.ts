/**
 * `--user`: a name resolved to `uid:gid` in the jail's own /etc/passwd (an image has no NSS to ask at
 * run time, and the ids that count are the jail's, not the host's), or numeric ids taken as they are.
 */
import type { Jail } from '../confine/inroot.js';
import { readJailText } from '../confine/jail-text.js';
import { ImageError } from './errors.js';

export function resolveUser(jail: Jail, user: string): string {
  if (/^\d+(?::\d+)?$/.test(user)) return user;
  const [name, group] = user.split(':', 2) as [string, string | undefined];
  const passwd = readJailText(jail, '/etc/passwd');
  if (passwd === undefined) throw new ImageError(user, 'bad-option', "cannot be resolved: the jail has no /etc/passwd (give UID[:GID], or add the user with 'elfcopy init --user')");
  const line = passwd.split('\n').find((l) => l.split(':')[0] === name);
  const fields = line?.split(':');
  const uid = fields?.[2];
  let gid = fields?.[3];
  if (uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) throw new ImageError(user, 'bad-option', `is not a user of the jail's /etc/passwd (--user)`);
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = group;
    else {
      const g = (readJailText(jail, '/etc/group') ?? '').split('\n').find((l) => l.split(':')[0] === group)?.split(':')[2];
      if (g === undefined || !/^\d+$/.test(g)) throw new ImageError(user, 'bad-option', `names group '${group}', which is not in the jail's /etc/group`);
      gid = g;
    }
  }
  return `${uid}:${gid}`;
}
