/** The error of `image`: names the file, directory or option value it is about. */
import { JailCopyError } from '../errors.js';

export type ImageErrorKind =
  /** A reference, --user, --env, --expose, --label, … that does not parse. */
  | 'bad-option'
  /** The output directory exists and is not an OCI layout, or the output file is not writable. */
  | 'bad-output'
  /** Nothing tells the jail's architecture, or its ELF files disagree. */
  | 'platform'
  /** A write failed for a reason other than the file system's refusal (that is an OutputIoError): nothing was left at the final path. */
  | 'write';

export class ImageError extends JailCopyError {
  override name = 'ImageError';
  readonly kind: ImageErrorKind;
  constructor(path: string, kind: ImageErrorKind, message: string) {
    super(path, message);
    this.kind = kind;
  }
}
