/**
 * The epoch when SOURCE_DATE_EPOCH is unset: 0 (1970-01-01T00:00:00Z). Any time taken from the run
 * (now, the newest mtime) would differ between two machines copying the same jail.
 */
export const DEFAULT_SOURCE_DATE_EPOCH = 0;
