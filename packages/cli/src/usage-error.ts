/** A mistake in the command line itself: exit 2, one line. */
export class UsageError extends Error {
  override name = 'UsageError';
}
