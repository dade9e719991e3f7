/**
 * An image reference `NAME[:TAG]`, checked against the grammar of the distribution reference
 * (github.com/distribution/reference: reference.go, normalize.go) that skopeo parses it with: lower-case
 * path components, an optional registry host[:port], a tag of at most 128 word characters, dots and dashes.
 */
import { ImageError } from './errors.js';

export interface ImageReference {
  /** `registry.example:5000/team/nginx` */
  name: string;
  /** `1.24`, or `latest` when none was given. */
  tag: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;
const NAME = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const PATH = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
/** reference.go: NameTotalLengthMax. */
const NAME_MAX = 255;

export function parseReference(value: string): ImageReference {
  // The last colon after the last slash starts the tag (a registry port has a slash after it).
  const slash = value.lastIndexOf('/');
  const colon = value.lastIndexOf(':');
  const [name, tag] = colon > slash ? [value.slice(0, colon), value.slice(colon + 1)] : [value, 'latest'];
  if (value.includes('@')) throw new ImageError(value, 'bad-option', 'is not a valid image reference: a digest (@sha256:…) cannot name an image being written');
  if (name.length === 0 || name.length > NAME_MAX || !validName(name)) {
    throw new ImageError(value, 'bad-option', `is not a valid image reference: the name must be lower-case path components (a-z, 0-9, '.', '_', '-') of at most ${NAME_MAX} characters, e.g. example.org/team/nginx`);
  }
  if (!TAG.test(tag)) throw new ImageError(value, 'bad-option', `is not a valid image reference: the tag '${tag}' must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
  return { name, tag };
}

/**
 * The grammar (reference.go), and then normalize.go's splitDockerDomain: the first component is a
 * registry only when it has a '.' or a ':' or is `localhost`; otherwise the whole name is path
 * components, which must be lower-case (`Upper/x` matches the grammar, with `Upper` as a domain, but is
 * refused).
 */
function validName(name: string): boolean {
  if (!NAME.test(name)) return false;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  return (slash >= 0 && (/[.:]/.test(first) || first === 'localhost')) || PATH.test(name);
}
